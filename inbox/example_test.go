package inbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/transport/inproc"
)

// A consumer of your own, on a database of your own: its handler writes its
// effect and the inbox's record in one transaction, so the second delivery
// of the same event changes nothing.
func Example() {
	dir, _ := os.MkdirTemp("", "inbox-example")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("sqlite", filepath.Join(dir, "mail.db"))
	defer db.Close()
	ctx := context.Background()
	db.ExecContext(ctx, `CREATE TABLE welcome_mails (user_id TEXT NOT NULL)`)
	if err := inbox.Migrate(ctx, db); err != nil {
		panic(err)
	}

	welcome := func(ctx context.Context, e shop.Event) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := inbox.Mark(ctx, db, tx); err != nil {
			return err // inbox.ErrHandled: a redelivery, nothing to do
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO welcome_mails(user_id) VALUES (?)`, e.Subject); err != nil {
			return err
		}
		return tx.Commit()
	}
	ib := inbox.New(db, "mailer")
	bus := inproc.NewBus()
	ib.Subscribe(bus, map[string]shop.Handler{shop.EventUserRegistered: welcome})

	e, _ := shop.NewEvent("user", shop.EventUserRegistered, "u1", shop.UserEventData{UserID: "u1"})
	bus.Publish(ctx, e)
	bus.Publish(ctx, e) // delivered twice, as at-least-once transports do

	var mails int
	db.QueryRowContext(ctx, `SELECT COUNT(*) FROM welcome_mails`).Scan(&mails)
	fmt.Println("welcome mails:", mails)
	// Output: welcome mails: 1
}
