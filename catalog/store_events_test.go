package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/transport/inproc"
)

// wantedEvent is what a test expects of one product event.
type wantedEvent struct {
	typ string
	p   Product
}

// checkProductEvents fails unless got is exactly want, in that order; after
// says what the events should follow.
func checkProductEvents(t *testing.T, after string, got []shop.Event, want ...wantedEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("after %s: %d events %s, want %d", after, len(got), testkit.EventsString(got), len(want))
	}
	for i, e := range got {
		w := want[i]
		if e.Type != w.typ || e.Source != EventSource || e.Subject != w.p.ID ||
			e.SpecVersion != "1.0" || e.ID == "" || e.Time.IsZero() || e.DataType != "application/json" {
			t.Fatalf("after %s: event %d is %+v, want a %s of %s from %s", after, i, e, w.typ, w.p.ID, EventSource)
		}
		var data shop.ProductEventData
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatalf("after %s: event %d data %s: %v", after, i, e.Data, err)
		}
		wantData := shop.ProductEventData{ProductID: w.p.ID, SKU: w.p.SKU, Name: w.p.Name, Description: w.p.Description,
			Price: shop.Money{Amount: w.p.Price, Currency: w.p.Currency}, Category: w.p.Category, UpdatedAt: w.p.UpdatedAt}
		if data != wantData {
			t.Fatalf("after %s: event %d data %+v, want %+v", after, i, data, wantData)
		}
	}
}

// Insert, Update and Delete each record their event with the product after
// the change (as it was, for Delete), and nothing when they fail.
func TestStoreRecordsProductEvents(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	events := testkit.NewOutboxLog(st.db.R)
	now := time.Now().UTC().Round(0)

	mug := Product{ID: shop.NewID(), SKU: "MUG-1", Name: "Blue mug", Description: "holds tea", Price: 1299,
		Currency: "EUR", Category: "kitchen", CreatedAt: now, UpdatedAt: now}
	if err := st.Insert(ctx, mug); err != nil {
		t.Fatal(err)
	}
	checkProductEvents(t, "Insert", events.Next(t), wantedEvent{shop.EventProductCreated, mug})
	cup := Product{ID: shop.NewID(), SKU: "CUP-1", Name: "Cup", Price: 500, Currency: "EUR", CreatedAt: now, UpdatedAt: now}
	if err := st.Insert(ctx, cup); err != nil {
		t.Fatal(err)
	}
	checkProductEvents(t, "a second Insert", events.Next(t), wantedEvent{shop.EventProductCreated, cup})

	dupSKU := cup
	dupSKU.ID = shop.NewID()
	wantErr(t, st.Insert(ctx, dupSKU), shop.ErrConflict, CodeSKUTaken)
	dupID := cup
	dupID.SKU = "CUP-2"
	if err := st.Insert(ctx, dupID); err == nil {
		t.Fatal("insert of a taken ID succeeded")
	}
	checkProductEvents(t, "failed inserts", events.Next(t))

	// Update: the product as it now is, UpdatedAt included.
	updated, err := st.Update(ctx, mug.ID, ProductPatch{Name: ptr("Red mug"), Price: ptr(int64(0))}, now)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Name != "Red mug" || updated.Price != 0 || !updated.UpdatedAt.After(mug.UpdatedAt) {
		t.Fatalf("Update returned %+v", updated)
	}
	checkProductEvents(t, "Update", events.Next(t), wantedEvent{shop.EventProductUpdated, updated})
	_, err = st.Update(ctx, mug.ID, ProductPatch{SKU: ptr("CUP-1")}, now)
	wantErr(t, err, shop.ErrConflict, CodeSKUTaken)
	_, err = st.Update(ctx, "nope", ProductPatch{Name: ptr("x")}, now)
	wantErr(t, err, shop.ErrNotFound, CodeProductNotFound)
	checkProductEvents(t, "failed updates", events.Next(t))
	if got, err := st.Get(ctx, mug.ID); err != nil || got != updated {
		t.Fatalf("after failed updates: %+v, %v, want %+v", got, err, updated)
	}

	// Delete: the product as it was.
	if err := st.Delete(ctx, mug.ID); err != nil {
		t.Fatal(err)
	}
	checkProductEvents(t, "Delete", events.Next(t), wantedEvent{shop.EventProductDeleted, updated})
	wantErr(t, st.Delete(ctx, mug.ID), shop.ErrNotFound, CodeProductNotFound)
	checkProductEvents(t, "deleting again", events.Next(t))

	if n, err := st.PendingEvents(ctx); err != nil || n != 4 {
		t.Fatalf("PendingEvents = %d, %v, want 4", n, err)
	}
}

// The service's calls reach the store's events: what CreateProduct,
// UpdateProduct and DeleteProduct return is what the events carry.
func TestServiceChangesAreAnnounced(t *testing.T) {
	st := newTestStore(t)
	events := testkit.NewOutboxLog(st.db.R)
	svc := NewService(st)
	p := mustCreate(t, svc, validProduct("SVC-1"))
	up, err := svc.UpdateProduct(adminCtx, p.ID, ProductPatch{Category: ptr("mugs")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.UpdateProduct(adminCtx, p.ID, ProductPatch{})
	wantErr(t, err, shop.ErrInvalid, CodeEmptyPatch)
	if err := svc.DeleteProduct(adminCtx, p.ID); err != nil {
		t.Fatal(err)
	}
	checkProductEvents(t, "create, update, empty update, delete", events.Next(t),
		wantedEvent{shop.EventProductCreated, p}, wantedEvent{shop.EventProductUpdated, up},
		wantedEvent{shop.EventProductDeleted, up})
}

// RunOutbox publishes the recorded events to a bus, each product's in the
// order they were recorded, until none is pending; a store on the caller's
// database does the same.
func TestRunOutboxPublishes(t *testing.T) {
	ctx := context.Background()
	// A busy timeout, as NewSQLiteStore advises: the relay writes while the
	// test reads.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "shared.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]*SQLiteStore{"OpenSQLiteStore": newTestStore(t), "NewSQLiteStore": NewSQLiteStore(db)} {
		t.Run(name, func(t *testing.T) {
			defer st.Close()
			var rec testkit.Recorder
			bus := inproc.NewBus()
			for _, typ := range []string{shop.EventProductCreated, shop.EventProductUpdated, shop.EventProductDeleted} {
				if err := bus.Subscribe(typ, rec.Handle); err != nil {
					t.Fatal(err)
				}
			}
			now := time.Now().UTC().Round(0)
			a := Product{ID: shop.NewID(), SKU: "A-1", Name: "A", Price: 1, Currency: "EUR", CreatedAt: now, UpdatedAt: now}
			b := Product{ID: shop.NewID(), SKU: "B-1", Name: "B", Price: 2, Currency: "EUR", CreatedAt: now, UpdatedAt: now}
			// Recorded before the relay runs, and while it runs.
			if err := st.Insert(ctx, a); err != nil {
				t.Fatal(err)
			}
			relayCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { st.RunOutbox(relayCtx, bus, log.NewNopLogger()); close(done) }()
			defer func() { stop(); <-done }()
			if err := st.Insert(ctx, b); err != nil {
				t.Fatal(err)
			}
			a2, err := st.Update(ctx, a.ID, ProductPatch{Price: ptr(int64(3))}, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, a.ID); err != nil {
				t.Fatal(err)
			}

			testkit.WaitRelayed(t, st.PendingEvents, &rec, 4)
			// Different products' events may interleave; each product's keep their order.
			var ofA, ofB []shop.Event
			for _, e := range rec.Events() {
				if e.Subject == a.ID {
					ofA = append(ofA, e)
				} else {
					ofB = append(ofB, e)
				}
			}
			checkProductEvents(t, "publishing A's", ofA, wantedEvent{shop.EventProductCreated, a},
				wantedEvent{shop.EventProductUpdated, a2}, wantedEvent{shop.EventProductDeleted, a2})
			checkProductEvents(t, "publishing B's", ofB, wantedEvent{shop.EventProductCreated, b})
		})
	}
}

// The outbox table of the migrations is outbox.Schema, to the letter.
func TestOutboxMigrationIsTheSchema(t *testing.T) {
	testkit.WantOutboxSchema(t, newTestStore(t).db.R)
}
