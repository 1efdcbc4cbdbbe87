package outbox_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
	"github.com/kitshop/shop/transport/inproc"
)

func ExampleRelay() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	// A service's migrations create the outbox table beside its own.
	migrations := fstest.MapFS{"0001_init.sql": {Data: []byte(outbox.Schema)}}
	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "order.db"), migrations)
	if err != nil {
		panic(err)
	}
	defer db.Close()

	bus := inproc.NewBus()
	bus.Subscribe(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		fmt.Println("received", e.Type, "for", e.Subject)
		return nil
	})

	// The event is stored in the same transaction as the change it reports.
	e, _ := shop.NewEvent("order", shop.EventOrderPaid, "o1", shop.OrderEventData{OrderID: "o1", Status: "paid"})
	err = db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		// ... update the order here ...
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		panic(err)
	}

	relay := outbox.NewRelay(db, bus, log.NewNopLogger())
	// A service runs relay.Run(ctx) in a goroutine and calls relay.Notify()
	// after each commit; one pass is enough here.
	n, err := relay.Drain(ctx)
	fmt.Println(n, err)
	left, _ := relay.Pending(ctx)
	fmt.Println("pending:", left)
	// Output:
	// received order.paid for o1
	// 1 <nil>
	// pending: 0
}
