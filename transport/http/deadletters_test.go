package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/internal/sqlitedb"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

func TestDeadLetterHandlerListsAndReplaysForAdminsOnly(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "consumer.db"), fstest.MapFS{"0001_inbox.sql": {Data: []byte(inbox.Schema)}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ib := inbox.New(db.W, "inventory", inbox.Attempts(1))
	var fixed atomic.Bool
	var applied atomic.Int32
	h := ib.Handle(shop.EventOrderPaid, func(context.Context, shop.Event) error {
		if !fixed.Load() {
			return errors.New("reservation table missing")
		}
		applied.Add(1)
		return nil
	})
	e, _ := shop.NewEvent("order", shop.EventOrderPaid, "o1", shop.OrderEventData{OrderID: "o1"})
	if err := h(ctx, e); err != nil {
		t.Fatal(err)
	}

	tokens, err := user.NewTokens([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	token := func(role shop.Role) string {
		s, _, err := tokens.Issue(shop.Identity{UserID: "u-" + string(role), Role: role}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	srv := httptest.NewServer(shophttp.DeadLetterHandler(ib, tokens, log.NewNopLogger()))
	defer srv.Close()
	do := func(method, path, tok string) (int, map[string]json.RawMessage) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]json.RawMessage
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	admin := token(shop.RoleAdmin)

	if status, _ := do("GET", "/admin/dead-letters", ""); status != 401 {
		t.Errorf("anonymous list: %d, want 401", status)
	}
	if status, _ := do("GET", "/admin/dead-letters", token(shop.RoleCustomer)); status != 403 {
		t.Errorf("customer list: %d, want 403", status)
	}
	if status, _ := do("POST", "/admin/dead-letters/"+e.ID+"/replay", token(shop.RoleService)); status != 403 {
		t.Errorf("service replay: %d, want 403", status)
	}
	if status, body := do("GET", "/admin/dead-letters?limit=0", admin); status != 400 || !strings.Contains(string(body["error"]), "invalid_limit") {
		t.Errorf("limit=0: %d %s, want 400 invalid_limit", status, body["error"])
	}
	status, body := do("GET", "/admin/dead-letters", admin)
	var items []shop.DeadLetter
	json.Unmarshal(body["items"], &items)
	if status != 200 || len(items) != 1 || items[0].Event.ID != e.ID || items[0].Consumer != "inventory" || !strings.Contains(items[0].Reason, "reservation table missing") {
		t.Fatalf("list: %d %+v, want the parked event", status, items)
	}

	if status, body := do("POST", "/admin/dead-letters/"+e.ID+"/replay", admin); status != 409 || !strings.Contains(string(body["error"]), "replay_failed") {
		t.Errorf("replay before the fix: %d %s, want 409 replay_failed", status, body["error"])
	}
	fixed.Store(true)
	if status, _ := do("POST", "/admin/dead-letters/"+e.ID+"/replay", admin); status != 200 {
		t.Errorf("replay after the fix: %d, want 200", status)
	}
	if applied.Load() != 1 {
		t.Errorf("applied %d times, want 1", applied.Load())
	}
	if status, body := do("POST", "/admin/dead-letters/"+e.ID+"/replay", admin); status != 404 || !strings.Contains(string(body["error"]), "dead_letter_not_found") {
		t.Errorf("replay again: %d %s, want 404", status, body["error"])
	}
	if status, body := do("GET", "/admin/dead-letters", admin); status != 200 || string(body["items"]) != "[]" {
		t.Errorf("list after replay: %d %s, want an empty list", status, body["items"])
	}
	if status, _ := do("DELETE", "/admin/dead-letters", admin); status != 405 {
		t.Errorf("DELETE: %d, want 405", status)
	}
}
