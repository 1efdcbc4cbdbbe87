package user

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-kit/log"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/transport/inproc"
)

// wantRegistered fails unless e announces that u registered.
func wantRegistered(t *testing.T, e shop.Event, u User) {
	t.Helper()
	if e.Type != shop.EventUserRegistered || e.Source != EventSource || e.Subject != u.ID ||
		e.SpecVersion != "1.0" || e.ID == "" || e.Time.IsZero() || e.DataType != "application/json" {
		t.Fatalf("event %+v, want a user.registered of %s from %s", e, u.ID, EventSource)
	}
	var data shop.UserEventData
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatalf("event data %s: %v", e.Data, err)
	}
	want := shop.UserEventData{UserID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt.UTC()}
	if data != want {
		t.Fatalf("event data %+v, want %+v", data, want)
	}
	// The data holds those fields and nothing else.
	var fields map[string]any
	if err := json.Unmarshal(e.Data, &fields); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"created_at", "email", "name", "role", "user_id"}; !slices.Equal(keys, want) {
		t.Fatalf("event data fields %v, want %v", keys, want)
	}
}

// Create records one user.registered event with the account, never its
// hash, and nothing when it stores nothing.
func TestCreateRecordsRegistered(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	created := time.Date(2030, 5, 6, 7, 8, 9, 1, time.FixedZone("X", -7200))
	u := User{ID: shop.NewID(), Email: "ada@example.com", Name: "Ada", Role: shop.RoleCustomer, CreatedAt: created}
	hash := []byte("$2a$10$a-hash-that-must-stay-home")
	if err := st.Create(ctx, u, hash); err != nil {
		t.Fatal(err)
	}
	added := testkit.NewOutboxLog(st.db.R)
	events, raws := added.NextRaw(t)
	if len(events) != 1 {
		t.Fatalf("%d events after one Create, want 1", len(events))
	}
	wantRegistered(t, events[0], u)
	if bytes.Contains(raws[0], hash) || bytes.Contains(raws[0], []byte("password")) {
		t.Fatalf("the stored event mentions the password: %s", raws[0])
	}

	// Nothing is stored, and no event recorded, for a taken email, a taken
	// ID or a role the schema refuses.
	dupEmail := User{ID: shop.NewID(), Email: u.Email, Name: "Other", Role: shop.RoleCustomer, CreatedAt: created}
	if err := st.Create(ctx, dupEmail, hash); shop.CodeOf(err) != CodeEmailTaken {
		t.Fatalf("duplicate email: %v", err)
	}
	dupID := User{ID: u.ID, Email: "other@example.com", Name: "Other", Role: shop.RoleCustomer, CreatedAt: created}
	if err := st.Create(ctx, dupID, hash); err == nil {
		t.Fatal("duplicate id stored")
	}
	badRole := User{ID: shop.NewID(), Email: "svc@example.com", Name: "S", Role: shop.RoleService, CreatedAt: created}
	if err := st.Create(ctx, badRole, hash); err == nil {
		t.Fatal("service role stored")
	}
	if events := added.Next(t); len(events) != 0 {
		t.Fatalf("%d more events after failed creates, want none: %s", len(events), testkit.EventsString(events))
	}
	// Changing an account is not a registration.
	if err := st.SetRole(ctx, u.ID, shop.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PendingEvents(ctx); err != nil || n != 1 {
		t.Fatalf("PendingEvents = %d, %v, want 1", n, err)
	}
}

// Register and EnsureAdmin both go through Create, so each account made by
// the service is announced once, with the password nowhere in the event.
func TestServiceRegistrationsAreAnnounced(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	s := NewService(st, nil, WithBcryptCost(bcrypt.MinCost))
	const password = "correct horse battery"
	u, err := s.Register(ctx, Registration{Email: " Ada@Example.com ", Password: password, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, Registration{Email: "ada@example.com", Password: password, Name: "Ada"}); shop.CodeOf(err) != CodeEmailTaken {
		t.Fatalf("second registration: %v", err)
	}
	admin, err := EnsureAdmin(ctx, st, "root@example.com", password, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureAdmin(ctx, st, "root@example.com", password, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	events, raws := testkit.NewOutboxLog(st.db.R).NextRaw(t)
	if len(events) != 2 {
		t.Fatalf("%d events, want 2", len(events))
	}
	wantRegistered(t, events[0], u)
	wantRegistered(t, events[1], admin)
	for i, email := range []string{u.Email, admin.Email} {
		_, hash, err := st.ByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raws[i], []byte(password)) || bytes.Contains(raws[i], hash) {
			t.Fatalf("the stored event holds the password or its hash: %s", raws[i])
		}
	}
}

// RunOutbox publishes the recorded events to a bus, in the order they were
// recorded, until none is pending; a store on the caller's database does
// the same.
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
	owned, _ := openStore(t)
	for name, st := range map[string]*SQLiteStore{"OpenSQLiteStore": owned, "NewSQLiteStore": NewSQLiteStore(db)} {
		t.Run(name, func(t *testing.T) {
			defer st.Close()
			var rec testkit.Recorder
			bus := inproc.NewBus()
			if err := bus.Subscribe(shop.EventUserRegistered, rec.Handle); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			users := []User{
				{ID: shop.NewID(), Email: "a@example.com", Name: "A", Role: shop.RoleCustomer, CreatedAt: now},
				{ID: shop.NewID(), Email: "b@example.com", Name: "B", Role: shop.RoleAdmin, CreatedAt: now},
			}
			// One recorded before the relay runs, one while it runs.
			if err := st.Create(ctx, users[0], []byte("h")); err != nil {
				t.Fatal(err)
			}
			relayCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { st.RunOutbox(relayCtx, bus, log.NewNopLogger()); close(done) }()
			defer func() { stop(); <-done }()
			if err := st.Create(ctx, users[1], []byte("h")); err != nil {
				t.Fatal(err)
			}
			testkit.WaitRelayed(t, st.PendingEvents, &rec, len(users))
			events := rec.Events()
			if len(events) != len(users) {
				t.Fatalf("received %d events, want %d", len(events), len(users))
			}
			for i, u := range users {
				wantRegistered(t, events[i], u)
			}
		})
	}
}

// The outbox table of the migrations is outbox.Schema, to the letter.
func TestOutboxMigrationIsTheSchema(t *testing.T) {
	st, _ := openStore(t)
	testkit.WantOutboxSchema(t, st.db.R)
}
