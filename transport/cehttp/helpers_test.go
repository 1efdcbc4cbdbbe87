package cehttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/transport/cehttp"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

// newTokens returns real login tokens with a fresh key.
func newTokens(t testing.TB) *user.Tokens {
	t.Helper()
	tokens, err := user.NewTokens([]byte("a test key of at least thirty-two bytes"))
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// issue returns a token for a caller of role.
func issue(t testing.TB, tokens *user.Tokens, role shop.Role) string {
	t.Helper()
	token, _, err := tokens.Issue(shop.Identity{UserID: string(role) + "-1", Role: role}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// serviceToken is the token source of a publishing service.
func serviceToken(tokens *user.Tokens) func() (string, error) {
	return tokens.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour)
}

// delivery is one event a consumer's handler got, with what its context
// carried.
type delivery struct {
	event     shop.Event
	identity  shop.Identity
	requestID string
}

// consumer is a service with a Receiver on a real HTTP server: its handler
// records every delivery and dedupes by event ID, as the shop's consumers
// do, and fails while fail is set.
type consumer struct {
	srv  *httptest.Server
	recv *cehttp.Receiver
	logs *testkit.SyncBuffer

	fail     atomic.Pointer[error]
	down     atomic.Bool // hang up on every request, as a crashing instance does
	requests atomic.Int64

	mu         sync.Mutex
	deliveries []delivery
	handled    map[string]int // times each event ID was applied: once, however often it came
}

// newConsumer starts a consumer whose receiver checks tokens with tokens
// and subscribes to types.
func newConsumer(t testing.TB, tokens shop.Verifier, types ...string) *consumer {
	t.Helper()
	c := &consumer{logs: &testkit.SyncBuffer{}, handled: map[string]int{}}
	c.recv = cehttp.NewReceiver(tokens, log.NewLogfmtLogger(c.logs))
	for _, typ := range types {
		if err := c.recv.Subscribe(typ, c.handle); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle(cehttp.Path, c.recv) // every method: the receiver answers 405 itself
	shophttp.Routes(mux)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		if c.down.Load() {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// handle is the consumer's handler.
func (c *consumer) handle(ctx context.Context, e shop.Event) error {
	id, _ := shop.IdentityFrom(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deliveries = append(c.deliveries, delivery{event: e, identity: id, requestID: shop.RequestIDFrom(ctx)})
	if err := c.fail.Load(); err != nil {
		return *err
	}
	if c.handled[e.ID] == 0 { // seen before: already applied, nothing to do
		c.handled[e.ID]++
	}
	return nil
}

// failWith makes the handler fail with err (nil: succeed again).
func (c *consumer) failWith(err error) {
	if err == nil {
		c.fail.Store(nil)
		return
	}
	c.fail.Store(&err)
}

// got returns the deliveries so far.
func (c *consumer) got() []delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]delivery(nil), c.deliveries...)
}

// deliveriesOf returns how many times the event with id reached the
// handler, and how many times the handler took it.
func (c *consumer) deliveriesOf(id string) (delivered, handled int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.deliveries {
		if d.event.ID == id {
			delivered++
		}
	}
	return delivered, c.handled[id]
}

// instancer returns a static instancer of the consumer.
func (c *consumer) instancer(t testing.TB) sd.Instancer {
	t.Helper()
	in, err := discovery.NewStaticInstancer(c.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// newPublisher returns a publisher to subs, closed when the test ends.
func newPublisher(t testing.TB, token func() (string, error), subs []cehttp.Subscription, opts ...cehttp.PublisherOption) *cehttp.Publisher {
	t.Helper()
	p, err := cehttp.NewPublisher(token, subs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// orderEvent returns an order.paid event of a fresh order, with every
// attribute set.
func orderEvent(t testing.TB, orderID string) shop.Event {
	t.Helper()
	e, err := shop.NewEvent("kitshop/order", shop.EventOrderPaid, orderID, shop.OrderEventData{
		OrderID: orderID, UserID: "u1", Status: "paid", Total: shop.Money{Amount: 1250, Currency: "EUR"},
		Lines: []shop.OrderLineData{{ProductID: "p1", Quantity: 2, UnitPrice: 625}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sameEvent fails the test unless got has every attribute of want.
func sameEvent(t testing.TB, got, want shop.Event) {
	t.Helper()
	if got.SpecVersion != want.SpecVersion || got.ID != want.ID || got.Source != want.Source || got.Type != want.Type ||
		got.Subject != want.Subject || got.DataType != want.DataType || !got.Time.Equal(want.Time) ||
		got.TraceParent != want.TraceParent || got.TraceState != want.TraceState {
		t.Errorf("event arrived as\n %+v\nwant\n %+v", got, want)
	}
	if !jsonEqual(t, got.Data, want.Data) {
		t.Errorf("data arrived as %s, want %s", got.Data, want.Data)
	}
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

// response is a raw answer of the receiver.
type response struct {
	status int
	header http.Header
	code   string
	kind   string
}

// post sends body to the receiver at base with the headers given as
// name, value pairs.
func post(t testing.TB, base, method, path, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode >= 300 {
		var b shophttp.ErrorBody
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Fatalf("%s %s: %d answer is not the shop's error shape: %v", method, path, resp.StatusCode, err)
		}
		r.code, r.kind = b.Error.Code, b.Error.Kind
	}
	return r
}

// within returns a context that ends after d, for calls that must not hang.
func within(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually calls f until it returns nil or 30 seconds pass, and returns
// its last error.
func eventually(f func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errBoom is a handler's failure.
var errBoom = errors.New("boom: the database is down")
