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
	v1 := &SQLiteStore{db: old}
	svc := NewService(v1)
	if _, err := svc.AddStock(adminCtx, "p1", 10); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"held", "sold"} {
		if _, _, err := svc.Reserve(serviceCtx, o, []Line{{"p1", 3}}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Commit(serviceCtx, "sold"); err != nil {
		t.Fatal(err)
	}
	old.Close()

	st, err := OpenSQLiteStore(ctx, path)
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer st.Close()
	svc = NewService(st)
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
