package inventory

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
)

// A database made by the first schema keeps its stock and reservations when
// the later migrations rebuild the reservation tables.
func TestMigrationKeepsReservations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inventory.db")
	first, err := fs.ReadFile(migrationFiles, "migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sqlitedb.Open(ctx, path, fstest.MapFS{"0001_init.sql": {Data: first}})
	if err != nil {
		t.Fatal(err)
	}
	// What the first schema's store left: 10 units of p1, 3 held for the
	// order "held", and 3 sold to the order "sold".
	created, expires := formatTime(time.Now()), formatTime(time.Now().Add(time.Hour))
	for _, stmt := range []string{
		`INSERT INTO stock (product_id, on_hand, reserved, updated_at) VALUES ('p1', 7, 3, ?1)`,
		`INSERT INTO reservations (order_id, status, created_at, expires_at, updated_at) VALUES ('held', 'held', ?1, ?2, ?1)`,
		`INSERT INTO reservations (order_id, status, created_at, expires_at, updated_at) VALUES ('sold', 'committed', ?1, ?2, ?1)`,
		`INSERT INTO reservation_lines (order_id, line_no, product_id, quantity) VALUES ('held', 0, 'p1', 3), ('sold', 0, 'p1', 3)`,
	} {
		if _, err := old.W.ExecContext(ctx, stmt, created, expires); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	st, err := OpenSQLiteStore(ctx, path)
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer st.Close()
	svc := NewService(st)
	wantStock(t, svc, "p1", 7, 3)
	page, err := svc.ListHeld(serviceCtx, time.Now().Add(time.Minute), shop.PageRequest{})
	if err != nil || len(page.Items) != 1 || page.Items[0].OrderID != "held" || len(page.Items[0].Lines) != 1 {
		t.Fatalf("held after migrating = %+v, %v", page, err)
	}
	if r, err := svc.Return(serviceCtx, "sold"); err != nil || r.Status != ReservationReturned {
		t.Fatalf("return after migrating = %+v, %v", r, err)
	}
	wantStock(t, svc, "p1", 10, 3)
	if _, err := svc.Release(serviceCtx, "held"); err != nil {
		t.Fatal(err)
	}
	wantStock(t, svc, "p1", 10, 0)
	// The migrated database has an outbox, and the changes since are in it.
	wantEvents(t, st, stockEvent{"p1", 10, 3, "returned", "sold"}, stockEvent{"p1", 10, 0, "released", "held"})
}

func TestListHeldPages(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 100)
	for _, o := range []string{"o1", "o2", "o3", "o4", "o5"} {
		if _, _, err := f.svc.Reserve(serviceCtx, o, []Line{{"p1", 1}}, f.expires()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Release(serviceCtx, "o2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ListHeld(customerCtx, f.clock.Now(), shop.PageRequest{}); shop.KindOf(err) != shop.ErrForbidden {
		t.Fatalf("customer listing: %v, want forbidden", err)
	}
	// Reservations made at the cut-off or later are not listed.
	if p, err := f.svc.ListHeld(serviceCtx, f.clock.Now(), shop.PageRequest{}); err != nil || len(p.Items) != 0 {
		t.Fatalf("created before now = %+v, %v, want none", p, err)
	}
	var got []string
	p := shop.PageRequest{Limit: 2}
	for {
		page, err := f.svc.ListHeld(serviceCtx, f.clock.Now().Add(time.Second), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Items {
			got = append(got, r.OrderID)
		}
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	if want := "[o1 o3 o4 o5]"; fmt.Sprint(got) != want {
		t.Fatalf("held = %v, want %s", got, want)
	}
}
