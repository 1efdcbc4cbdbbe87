package amqp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-kit/log"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/transport/amqp"
)

// brokerURL returns the broker of SHOP_TEST_AMQP_URL (default
// amqp://guest:guest@127.0.0.1:5672/) once it answers. Outside CI a
// missing broker skips the test; with CI=true it fails it, so CI never
// passes by skipping.
func brokerURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("SHOP_TEST_AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@127.0.0.1:5672/"
	}
	conn, err := amqp091.DialConfig(url, amqp091.Config{Dial: amqp091.DefaultDial(3 * time.Second)})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("RabbitMQ at SHOP_TEST_AMQP_URL (default 127.0.0.1:5672) is unreachable (CI=true, so this fails): %v", err)
		}
		t.Skipf("RabbitMQ at SHOP_TEST_AMQP_URL (default 127.0.0.1:5672) is unreachable; start rabbitmq-server or set SHOP_TEST_AMQP_URL: %v", err)
	}
	conn.Close()
	return url
}

// env is one test's own exchange and queue prefix on the broker, deleted
// when the test ends.
type env struct {
	t    *testing.T
	url  string
	logs *testkit.SyncBuffer
	opts []amqp.Option
}

func newEnv(t *testing.T, opts ...amqp.Option) *env {
	t.Helper()
	url := brokerURL(t)
	id := "kitshop-test-" + shop.NewID()
	logs := &testkit.SyncBuffer{}
	e := &env{t: t, url: url, logs: logs, opts: append([]amqp.Option{
		amqp.WithExchange(id + ".events"),
		amqp.WithQueuePrefix(id),
		amqp.WithLogger(log.NewLogfmtLogger(logs)),
		amqp.WithReconnectBackoff(20*time.Millisecond, 500*time.Millisecond),
		amqp.WithRetryBackoff(20*time.Millisecond, 200*time.Millisecond),
	}, opts...)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := amqp.DeleteExchanges(ctx, url, e.opts...); err != nil {
			t.Errorf("delete the test's exchanges: %v", err)
		}
		if t.Failed() {
			t.Logf("transport log:\n%s", logs.String())
		}
	})
	return e
}

func (e *env) publisher(opts ...amqp.Option) *amqp.Publisher {
	e.t.Helper()
	p, err := amqp.NewPublisher(e.url, append(append([]amqp.Option{}, e.opts...), opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.Close() })
	return p
}

// subscriber returns a subscriber of service whose queues are deleted
// when the test ends (after every subscriber of the test has stopped).
func (e *env) subscriber(service string, opts ...amqp.Option) *amqp.Subscriber {
	e.t.Helper()
	s, err := amqp.NewSubscriber(e.url, service, append(append([]amqp.Option{}, e.opts...), opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DeleteQueues(ctx); err != nil {
			e.t.Errorf("delete the test's queues: %v", err)
		}
	})
	return s
}

// start starts s and stops it when the test ends; the returned stop stops
// it earlier and waits until it has stopped.
func start(t *testing.T, s *amqp.Subscriber) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start subscriber: %v", err)
	}
	stop = func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the subscriber did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testData is the data of the tests' events.
type testData struct {
	N   int    `json:"n"`
	Tag string `json:"tag"`
}

func event(t *testing.T, typ, subject string, n int) shop.Event {
	t.Helper()
	e, err := shop.NewEvent("test", typ, subject, testData{N: n, Tag: fmt.Sprintf("%s-%d", subject, n)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sameEvent reports how got differs from want, or "" when it does not.
func sameEvent(want, got shop.Event) string {
	switch {
	case got.ID != want.ID, got.Type != want.Type, got.Source != want.Source, got.Subject != want.Subject,
		got.SpecVersion != want.SpecVersion, got.DataType != want.DataType, !got.Time.Equal(want.Time),
		!bytes.Equal(got.Data, want.Data), got.TraceParent != want.TraceParent, got.TraceState != want.TraceState:
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(got)
		return fmt.Sprintf("want %s\n got %s", w, g)
	}
	return ""
}

func ids(events []shop.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// rawChannel opens a plain client channel on the broker, closed when the
// test ends.
func rawChannel(t *testing.T, url string) *amqp091.Channel {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// closeAllConnections makes the broker close every client connection, as
// a broker restart or a network cut would.
func closeAllConnections(t *testing.T) {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", "close_all_connections", "test").CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl close_all_connections: %v\n%s", err, out)
	}
}

func needRabbitmqctl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rabbitmqctl is not on PATH (CI=true, so this fails)")
		}
		t.Skip("rabbitmqctl is not on PATH; this test closes the broker's connections with it")
	}
}

// source is a producer's database with an outbox, and the relay that
// publishes it, as a service has them.
type source struct {
	t     *testing.T
	db    *sqlitedb.DB
	relay *outbox.Relay
}

func newOutbox(t *testing.T, pub shop.Publisher, logger log.Logger) *source {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "producer.db"),
		fstest.MapFS{"0001_init.sql": {Data: []byte(outbox.Schema)}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	relay := outbox.NewRelay(db, pub, logger)
	relay.Interval = 20 * time.Millisecond
	relay.MaxBackoff = 200 * time.Millisecond
	done := make(chan struct{})
	go func() {
		defer close(done)
		relay.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		db.Close()
	})
	return &source{t: t, db: db, relay: relay}
}

// add commits events in one transaction and wakes the relay.
func (s *source) add(events ...shop.Event) error {
	err := s.db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
		for _, e := range events {
			if err := outbox.Add(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit to the outbox: %w", err)
	}
	s.relay.Notify()
	return nil
}

func (s *source) pending() int {
	s.t.Helper()
	n, err := s.relay.Pending(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (e *env) logger() log.Logger { return log.NewLogfmtLogger(e.logs) }
