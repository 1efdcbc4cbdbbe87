package shop

import (
	"context"
	"encoding/json"
	"errors"
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
	// TraceParent and TraceState are the W3C trace context of the change
	// that made the event (CloudEvents' distributed tracing extension), so
	// the relay, the broker and the consumer continue its trace. Empty when
	// tracing is off.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
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

// BatchPublisher is a Publisher that can hand over several events at once
// and wait for all their confirmations together (a broker's publisher
// confirms), which is much faster than one round trip per event. The outbox
// relay uses PublishBatch when its publisher has it. Events of one subject
// come in the order they were recorded, and a PublishBatch must keep that
// order: once one of a subject's events fails, it does not hand over the
// later ones of that subject (it returns an error for each). The result has
// one error per event, nil for each one safely handed over.
type BatchPublisher interface {
	Publisher
	PublishBatch(ctx context.Context, events []Event) []error
}

// Handler consumes one event. Returning an error asks for redelivery later;
// handlers must be idempotent because an event can arrive more than once
// (wrap them with the inbox package to make that structural). An error that
// wraps ErrDeadLetter says trying again cannot help: the transport parks the
// event as a dead letter instead.
type Handler func(ctx context.Context, e Event) error

// ErrDeadLetter marks a handler's error as final: the event was given up
// after its attempts ran out, and the transport parks it where an operator
// can see and replay it (on RabbitMQ, the consumer's dead-letter queue)
// instead of delivering it again.
var ErrDeadLetter = errors.New("event given up: dead letter")

// DeadLetter is an event a consumer gave up on, parked for an operator.
type DeadLetter struct {
	Event Event `json:"event"`
	// Consumer is the consuming service (its queue or inbox) that gave up.
	Consumer string `json:"consumer"`
	// Reason is the last error, as text.
	Reason string `json:"reason"`
	// Attempts is how many times handling was tried (0 when unknown).
	Attempts int `json:"attempts"`
	// ParkedAt is when it was parked (zero when unknown).
	ParkedAt time.Time `json:"parked_at"`
}

// DeadLetters is where a consumer's given-up events wait: an inbox's parked
// table or a broker's dead-letter queue. Operators list and replay them
// through an admin route (see transport/http DeadLetterHandler).
type DeadLetters interface {
	// DeadLetters returns at most limit parked events, oldest first.
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// Replay hands the parked event with this ID to its consumer again and
	// takes it off the parked list; if handling fails again it is parked
	// again. An unknown ID is an error for which errors.Is(err, ErrNotFound).
	Replay(ctx context.Context, eventID string) error
}

// Subscriber registers handlers for event types.
type Subscriber interface {
	Subscribe(eventType string, h Handler) error
}
