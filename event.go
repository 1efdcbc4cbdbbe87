package shop

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Event is a domain event in a CloudEvents-shaped envelope. Events travel at
// least once: consumers must treat a repeated ID as already handled.
type Event struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject,omitempty"`
	Time        time.Time       `json:"time"`
	DataType    string          `json:"datacontenttype,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// NewEvent builds an event with a fresh ID and the current time, its data
// encoded as JSON.
func NewEvent(source, typ, subject string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event data: %w", typ, err)
	}
	return Event{SpecVersion: "1.0", ID: NewID(), Source: source, Type: typ, Subject: subject,
		Time: time.Now().UTC(), DataType: "application/json", Data: raw}, nil
}

// Publisher sends events to whoever subscribed. Publish returns nil only once
// the event is safely handed over (delivered in process, or confirmed by a
// broker); on error the caller keeps the event and tries again later.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// Handler consumes one event. Returning an error asks for redelivery later;
// handlers must be idempotent because an event can arrive more than once.
type Handler func(ctx context.Context, e Event) error

// Subscriber registers handlers for event types.
type Subscriber interface {
	Subscribe(eventType string, h Handler) error
}
