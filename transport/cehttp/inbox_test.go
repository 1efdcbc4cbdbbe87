package cehttp_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync/atomic"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/transport/cehttp"
)

// A consumer wired as the Receiver's doc says, its handlers wrapped by an
// inbox with its defaults, behind a Publisher with its defaults: repeated
// pushes change nothing, and an event that keeps failing is tried the
// inbox's full number of times within one push (the push's attempt timeout
// leaves room for the inbox's backoff) and parked, so the sender stops.
func TestInboxBehindReceiver(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "mail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE mails (order_id TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	var poisonTries atomic.Int64
	mail := func(ctx context.Context, e shop.Event) error {
		if e.Subject == "poison" {
			poisonTries.Add(1)
			return errBoom
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := inbox.Mark(ctx, db, tx); err != nil {
			return err // inbox.ErrHandled: pushed before
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO mails(order_id) VALUES (?)`, e.Subject); err != nil {
			return err
		}
		return tx.Commit()
	}
	tokens := newTokens(t)
	c := newConsumer(t, tokens)
	ib := inbox.New(db, "mail")
	if err := ib.Subscribe(c.recv, map[string]shop.Handler{shop.EventOrderPaid: mail}); err != nil {
		t.Fatal(err)
	}
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{
		{Service: "mail", Instancer: c.instancer(t), Types: []string{shop.EventOrderPaid}},
	})

	e := orderEvent(t, "ord_1")
	for i := 0; i < 3; i++ {
		if err := p.Publish(ctx, e); err != nil {
			t.Fatalf("Publish %d: %v", i+1, err)
		}
	}
	var mails int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM mails`).Scan(&mails); err != nil || mails != 1 {
		t.Fatalf("three pushes of one event sent %d mails (%v), want 1", mails, err)
	}

	poison := orderEvent(t, "poison")
	if err := p.Publish(ctx, poison); err != nil {
		t.Fatalf("Publish of an event the inbox parks: %v, want nil (parked is taken)", err)
	}
	if n := poisonTries.Load(); n != inbox.DefaultAttempts {
		t.Errorf("the failing handler was tried %d times, want the inbox's %d within one push", n, inbox.DefaultAttempts)
	}
	parked, err := ib.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 1 || parked[0].Event.ID != poison.ID {
		t.Fatalf("parked %+v, want the failing event", parked)
	}
}
