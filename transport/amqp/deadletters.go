package amqp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/kitshop/shop"
)

// DeadLetters implements shop.DeadLetters: it returns at most limit
// messages of the service's dead-letter queue, oldest first, without
// taking them off it (they are fetched unacknowledged, held until all are
// read, then handed back to their places). Reason, Attempts and ParkedAt
// come from the headers the subscriber set when it parked the event, or,
// for a message the broker dead-lettered, from its x-death header. A body
// that is not an event gives an Event with only ID (the message ID), Type
// and Time.
//
// Each call opens a short connection of its own; the subscriber need not
// be running. Calls of one Subscriber run one at a time; while one runs,
// another process reading the same queue sees only the messages not held.
func (s *Subscriber) DeadLetters(ctx context.Context, limit int) ([]shop.DeadLetter, error) {
	out := []shop.DeadLetter{}
	if limit <= 0 {
		return out, nil
	}
	ch, release, err := s.adminChannel(ctx, false)
	if err != nil {
		return nil, err
	}
	defer release()
	if _, err := ch.QueueDeclarePassive(s.deadQueue, true, false, false, false, nil); err != nil {
		if isNotFound(err) {
			return out, nil
		}
		return nil, fmt.Errorf("amqp: look up %s: %w", s.deadQueue, err)
	}
	var last uint64
	for len(out) < limit && ctx.Err() == nil {
		d, ok, err := ch.Get(s.deadQueue, false)
		if err != nil {
			return nil, fmt.Errorf("amqp: read %s: %w", s.deadQueue, err)
		}
		if !ok {
			break
		}
		last = d.DeliveryTag
		out = append(out, s.deadLetter(d))
	}
	if err := ctx.Err(); err != nil {
		return nil, err // closing the connection hands the messages back
	}
	if last > 0 {
		if err := ch.Nack(last, true, true); err != nil {
			return nil, fmt.Errorf("amqp: hand back %s's messages: %w", s.deadQueue, err)
		}
	}
	return out, nil
}

// Replay implements shop.DeadLetters: it publishes the dead letter with this
// event ID to the service's own queue (through the default exchange, so no
// other service gets it again), waits for the broker's confirm, and only
// then takes it (and any copies with the same ID) off the dead-letter
// queue. The subscriber handles it like any other message, and parks it
// again if it fails again. An unknown ID gives an error for which
// errors.Is(err, shop.ErrNotFound) holds.
func (s *Subscriber) Replay(ctx context.Context, eventID string) error {
	ch, release, err := s.adminChannel(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	q, err := ch.QueueDeclarePassive(s.deadQueue, true, false, false, false, nil)
	if err != nil {
		if isNotFound(err) {
			return shop.E(shop.ErrNotFound, "dead_letter_not_found", "no dead letter %q for %s", eventID, s.service)
		}
		return fmt.Errorf("amqp: look up %s: %w", s.deadQueue, err)
	}
	// Hold every message (at most those there now) so none is seen twice;
	// closing the connection on an early return hands them all back.
	var found []amqp091.Delivery
	var others uint64 // the last tag of a message that is not the one
	for i := 0; i < q.Messages; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, ok, err := ch.Get(s.deadQueue, false)
		if err != nil {
			return fmt.Errorf("amqp: read %s: %w", s.deadQueue, err)
		}
		if !ok {
			break
		}
		if s.deadLetter(d).Event.ID == eventID {
			found = append(found, d)
		} else {
			others = d.DeliveryTag
		}
	}
	if len(found) == 0 {
		return shop.E(shop.ErrNotFound, "dead_letter_not_found", "no dead letter %q for %s", eventID, s.service)
	}
	returns := ch.NotifyReturn(make(chan amqp091.Return, 4))
	msg := republished(found[0], replayHeaders(found[0].Headers))
	if err := confirmed(ch, returns, "", s.queue, msg, s.cfg.confirmTimeout); err != nil {
		return fmt.Errorf("amqp: replay %s to %s: %w", eventID, s.queue, err)
	}
	for _, d := range found {
		if err := d.Ack(false); err != nil {
			return fmt.Errorf("amqp: %s was replayed but stays in %s too: %w", eventID, s.deadQueue, err)
		}
	}
	if others > 0 {
		// Closing the connection would hand them back too; this says so
		// before the connection goes.
		if err := ch.Nack(others, true, true); err != nil {
			return fmt.Errorf("amqp: hand back %s's other messages: %w", s.deadQueue, err)
		}
	}
	return nil
}

// adminChannel opens a connection and a channel (in confirm mode when
// asked) for DeadLetters or Replay; release closes them.
func (s *Subscriber) adminChannel(ctx context.Context, confirm bool) (*amqp091.Channel, func(), error) {
	select {
	case s.admin <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	conn, err := s.cfg.dial(ctx, s.url, "kitshop "+s.service+" dead letters")
	if err != nil {
		<-s.admin
		return nil, nil, fmt.Errorf("amqp: %w", err)
	}
	release := func() {
		conn.Close()
		<-s.admin
	}
	ch, err := conn.Channel()
	if err == nil && confirm {
		err = ch.Confirm(false)
	}
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("amqp: open a channel: %w", err)
	}
	return ch, release, nil
}

// deadLetter describes a message of the dead-letter queue.
func (s *Subscriber) deadLetter(d amqp091.Delivery) shop.DeadLetter {
	dl := shop.DeadLetter{Consumer: s.service}
	if e, err := decode(d.Body); err == nil {
		dl.Event = e
	} else {
		dl.Event = shop.Event{ID: d.MessageId, Type: d.Type, Time: d.Timestamp}
	}
	if r, ok := d.Headers[HeaderReason].(string); ok {
		dl.Reason = r
	}
	if n, ok := toInt64(d.Headers[HeaderAttempts]); ok {
		dl.Attempts = int(n)
	}
	if ms, ok := toInt64(d.Headers[HeaderParkedAt]); ok {
		dl.ParkedAt = time.UnixMilli(ms).UTC()
	}
	if dl.Reason != "" && !dl.ParkedAt.IsZero() {
		return dl
	}
	// Dead-lettered by the broker: the newest x-death entry says why.
	deaths, _ := d.Headers["x-death"].([]any)
	if len(deaths) == 0 {
		return dl
	}
	death, _ := deaths[0].(amqp091.Table)
	if dl.Reason == "" {
		reason, _ := death["reason"].(string)
		queue, _ := death["queue"].(string)
		dl.Reason = fmt.Sprintf("dead-lettered by the broker from %s: %s", queue, reason)
	}
	if t, ok := death["time"].(time.Time); ok && dl.ParkedAt.IsZero() {
		dl.ParkedAt = t.UTC()
	}
	return dl
}

// replayHeaders is a dead letter's headers without what parking added.
func replayHeaders(h amqp091.Table) amqp091.Table {
	out := amqp091.Table{}
	for k, v := range h {
		if strings.HasPrefix(k, "x-kitshop-") || k == "x-death" ||
			strings.HasPrefix(k, "x-first-death-") || strings.HasPrefix(k, "x-last-death-") {
			continue
		}
		out[k] = v
	}
	return out
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case int:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	}
	return 0, false
}

// isNotFound reports whether err is the broker's 404 (no such queue or
// exchange).
func isNotFound(err error) bool {
	var ae *amqp091.Error
	return errors.As(err, &ae) && ae.Code == amqp091.NotFound
}

// DeleteQueues deletes the service's queue and dead-letter queue, with
// whatever messages they hold. Tests use it to clean up after themselves.
func (s *Subscriber) DeleteQueues(ctx context.Context) error {
	return deleteAll(ctx, s.cfg, s.url, func(ch *amqp091.Channel) error {
		for _, q := range []string{s.queue, s.deadQueue} {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				return fmt.Errorf("delete queue %s: %w", q, err)
			}
		}
		return nil
	})
}

// DeleteExchanges deletes the exchange the options name (default
// DefaultExchange) and its dead-letter exchange. Tests use it to clean up
// after themselves.
func DeleteExchanges(ctx context.Context, url string, opts ...Option) error {
	cfg := newConfig(opts)
	return deleteAll(ctx, cfg, url, func(ch *amqp091.Channel) error {
		for _, x := range []string{cfg.exchange, cfg.deadLetterExchange()} {
			if err := ch.ExchangeDelete(x, false, false); err != nil {
				return fmt.Errorf("delete exchange %s: %w", x, err)
			}
		}
		return nil
	})
}

func deleteAll(ctx context.Context, cfg config, url string, fn func(*amqp091.Channel) error) error {
	conn, err := cfg.dial(ctx, url, "kitshop clean-up")
	if err != nil {
		return fmt.Errorf("amqp: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("amqp: open a channel: %w", err)
	}
	if err := fn(ch); err != nil {
		return fmt.Errorf("amqp: %w", err)
	}
	return nil
}
