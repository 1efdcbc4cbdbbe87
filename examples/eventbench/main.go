// Command eventbench measures the RabbitMQ event path in one run on one
// machine against its yardstick:
//
//   - raw: amqp091-go alone, as a tuned producer would use it: persistent
//     messages to one durable queue with publisher confirms, many in flight
//     at once, and a consumer acknowledging each message. The ceiling.
//   - the two halves apart: producers commit events into an outbox
//     (outbox.Add inside a sqlitedb transaction) while the outbox relay
//     hands them to transport/amqp's Publisher and no one consumes; then
//     transport/amqp's Subscriber drains the full queue into an
//     inbox-wrapped handler that commits its effect together with the
//     inbox's mark in the consumer's own SQLite database.
//   - end to end at full speed: both halves at once, producers committing
//     as fast as they can.
//   - end to end at a fixed rate (default 500 events/s): the latency from
//     the producer's commit to the consumer's commit, in total and per
//     stage. The producer's transaction writes the time into the event
//     data just before it commits, so the figure includes that commit.
//
// Targets: end to end at least 0.5x the raw throughput; p99 under 50 ms at
// 500 events/s. Run it from the repository root with RabbitMQ running:
//
//	go run ./examples/eventbench                 # -n 20000 -rate 500 -d 10s
//	go run ./examples/eventbench -workers 8      # the subscriber handles 8 subjects at once
//	go run ./examples/eventbench -cpuprofile e2e.prof -skip-latency
//
// Everything shares the machine's cores, the broker included, so on a small
// machine the end-to-end run is bound by the CPU all its parts need per
// event; the lines above the table say how much this process used. Other
// load on the machine moves every figure.
//
// It declares exchanges and queues of its own (kitshop-bench-<id>...) and
// deletes them when it ends.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing/fstest"
	"text/tabwriter"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
	"github.com/kitshop/shop/transport/amqp"
)

type settings struct {
	url         string
	n           int           // events per throughput run
	rate        int           // events/s of the latency run
	d           time.Duration // length of the latency run
	producers   int           // goroutines committing events at full speed
	subjects    int           // distinct subjects (aggregates) the events belong to
	window      int           // raw: confirms in flight
	prefetch    int           // both consumers' prefetch
	relayBatch  int           // the relay's batch size
	skipRaw     bool
	skipLatency bool
	skipE2E     bool
	skipStages  bool
	cpuProfile  string
	workers     int // the subscriber's concurrency
}

func main() {
	var s settings
	flag.StringVar(&s.url, "url", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ")
	flag.IntVar(&s.n, "n", 20000, "events per throughput run")
	flag.IntVar(&s.rate, "rate", 500, "events/s of the latency run")
	flag.DurationVar(&s.d, "d", 10*time.Second, "length of the latency run")
	flag.IntVar(&s.producers, "producers", 8, "goroutines committing events at full speed, one event per transaction")
	flag.IntVar(&s.subjects, "subjects", 1000, "distinct subjects the events belong to (the outbox keeps each subject's order)")
	flag.IntVar(&s.window, "window", 1000, "raw run: publishes awaiting their confirm at most")
	flag.IntVar(&s.prefetch, "prefetch", amqp.DefaultPrefetch, "prefetch of both consumers")
	flag.IntVar(&s.relayBatch, "relay-batch", 100, "events per outbox relay pass (its default is 100)")
	flag.BoolVar(&s.skipRaw, "skip-raw", false, "skip the raw run")
	flag.BoolVar(&s.skipLatency, "skip-latency", false, "skip the fixed-rate run")
	flag.BoolVar(&s.skipE2E, "skip-e2e", false, "run the raw run only")
	flag.BoolVar(&s.skipStages, "skip-stages", false, "skip measuring outbox to broker and broker to consumer apart")
	flag.IntVar(&s.workers, "workers", 1, "events the subscriber handles at once (amqp.WithConcurrency; spread by subject)")
	flag.StringVar(&s.cpuProfile, "cpuprofile", "", "write a CPU profile of the end-to-end full-speed run to this file")
	flag.Parse()
	if s.n < 1 || s.rate < 1 || s.d <= 0 || s.producers < 1 || s.subjects < 1 || s.window < 1 || s.prefetch < 1 || s.relayBatch < 1 || s.workers < 1 {
		fmt.Fprintln(os.Stderr, "eventbench: every count, rate and duration must be positive")
		os.Exit(2)
	}
	if err := run(s); err != nil {
		fmt.Fprintln(os.Stderr, "eventbench:", err)
		os.Exit(1)
	}
}

// result is one row of the table.
type result struct {
	name      string
	events    int
	elapsed   time.Duration
	latencies []time.Duration // sorted; empty when not measured
}

func (r result) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func run(s settings) error {
	ctx := context.Background()
	fmt.Printf("eventbench: %s, GOMAXPROCS %d; %d events per throughput run, %d subjects, prefetch %d, %d subscriber workers, relay batch %d\n",
		runtime.Version(), runtime.GOMAXPROCS(0), s.n, s.subjects, s.prefetch, s.workers, s.relayBatch)
	var rows []result
	if !s.skipRaw {
		r, err := rawRun(ctx, s)
		if err != nil {
			return fmt.Errorf("raw run: %w", err)
		}
		rows = append(rows, r)
		printRows(rows)
	}
	if s.skipE2E {
		return nil
	}
	e2e, err := newPipeline(ctx, s)
	if err != nil {
		return err
	}
	defer e2e.close()
	var relayed, consumed result
	if s.skipStages {
		err = e2e.startSubscriber(ctx)
	} else {
		relayed, consumed, err = e2e.stages(ctx, s)
		rows = append(rows, relayed, consumed)
		printRows(rows)
	}
	if err != nil {
		return fmt.Errorf("stage runs: %w", err)
	}
	full, err := e2e.fullSpeed(s)
	if err != nil {
		return fmt.Errorf("end-to-end run: %w", err)
	}
	rows = append(rows, full)
	if !s.skipLatency {
		printRows(rows)
		paced, err := e2e.paced(s)
		if err != nil {
			return fmt.Errorf("fixed-rate run: %w", err)
		}
		rows = append(rows, paced)
	}
	fmt.Println()
	printRows(rows)
	fmt.Println()
	if !s.skipRaw {
		raw := rows[0].rate()
		fmt.Printf("end to end / raw throughput: %.2fx (target >= 0.5x)", full.rate()/raw)
		if !s.skipStages {
			fmt.Printf("; outbox to broker alone %.2fx, broker to consumer alone %.2fx", relayed.rate()/raw, consumed.rate()/raw)
		}
		fmt.Println()
	}
	if !s.skipLatency {
		fmt.Printf("p99 commit-to-commit at %d/s: %s (target < 50ms)\n", s.rate, rows[len(rows)-1].pct(0.99).Round(10*time.Microsecond))
	}
	st := e2e.producer.Stats()
	ct := e2e.consumer.Stats()
	fmt.Printf("group commit: producer %d transactions in %d commits, consumer %d in %d\n",
		st.Transactions, st.Commits, ct.Transactions, ct.Commits)
	return nil
}

func printRows(rows []result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "run\tevents\tseconds\tevents/s\tp50\tp99\tmax\t")
	for _, r := range rows {
		lat := func(p float64) string {
			if len(r.latencies) == 0 {
				return "-"
			}
			return r.pct(p).Round(10 * time.Microsecond).String()
		}
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.0f\t%s\t%s\t%s\t\n", r.name, r.events, r.elapsed.Seconds(), r.rate(), lat(0.5), lat(0.99), lat(1))
	}
	w.Flush()
}

// body is a message body the size of a real event.
func body() []byte {
	e, _ := shop.NewEvent("order", shop.EventOrderPaid, "o123", shop.OrderEventData{
		OrderID: "01hzzzzzzzzzzzzzzzzzzzzzzz", UserID: "01hyyyyyyyyyyyyyyyyyyyyyyy", Status: "paid",
		Total: shop.Money{Amount: 12345, Currency: "EUR"}})
	raw, _ := json.Marshal(e)
	return raw
}

// rawRun publishes s.n persistent messages with confirms, at most s.window
// in flight, to a durable queue that a consumer drains at the same time.
func rawRun(ctx context.Context, s settings) (result, error) {
	queue := "kitshop-bench-" + shop.NewID() + ".raw"
	pconn, err := amqp091.Dial(s.url)
	if err != nil {
		return result{}, err
	}
	defer pconn.Close()
	cconn, err := amqp091.Dial(s.url)
	if err != nil {
		return result{}, err
	}
	defer cconn.Close()
	pch, err := pconn.Channel()
	if err != nil {
		return result{}, err
	}
	if _, err := pch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		return result{}, err
	}
	defer func() {
		if ch, err := cconn.Channel(); err == nil {
			ch.QueueDelete(queue, false, false, false)
		}
	}()
	if err := pch.Confirm(false); err != nil {
		return result{}, err
	}
	confirms := pch.NotifyPublish(make(chan amqp091.Confirmation, s.window))
	cch, err := cconn.Channel()
	if err != nil {
		return result{}, err
	}
	if err := cch.Qos(s.prefetch, 0, false); err != nil {
		return result{}, err
	}
	deliveries, err := cch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		return result{}, err
	}

	msg := amqp091.Publishing{ContentType: amqp.ContentType, DeliveryMode: amqp091.Persistent, Type: shop.EventOrderPaid, Body: body()}
	slots := make(chan struct{}, s.window)
	var nacks atomic.Int64
	confirmed := make(chan struct{})
	go func() {
		for i := 0; i < s.n; i++ {
			c, ok := <-confirms
			if !ok {
				return
			}
			if !c.Ack {
				nacks.Add(1)
			}
			<-slots
		}
		close(confirmed)
	}()
	consumed := make(chan error, 1)
	go func() {
		for i := 0; i < s.n; i++ {
			d, ok := <-deliveries
			if !ok {
				consumed <- errors.New("the consumer's channel closed")
				return
			}
			if err := d.Ack(false); err != nil {
				consumed <- err
				return
			}
		}
		consumed <- nil
	}()

	cpu0 := cpuTime()
	begin := time.Now()
	for i := 0; i < s.n; i++ {
		slots <- struct{}{}
		msg.MessageId = shop.NewID()
		if err := pch.PublishWithContext(ctx, "", queue, false, false, msg); err != nil {
			return result{}, err
		}
	}
	timeout := time.After(5 * time.Minute)
	select {
	case <-confirmed:
	case <-timeout:
		return result{}, errors.New("confirms did not arrive within 5 minutes")
	}
	published := time.Since(begin)
	select {
	case err := <-consumed:
		if err != nil {
			return result{}, err
		}
	case <-timeout:
		return result{}, errors.New("the consumer did not get every message within 5 minutes")
	}
	elapsed := time.Since(begin)
	if n := nacks.Load(); n > 0 {
		return result{}, fmt.Errorf("the broker refused %d messages", n)
	}
	fmt.Printf("raw: %d published and confirmed in %.2fs (%.0f/s), consumed by %.2fs; this process used %.0fµs of CPU per event\n",
		s.n, published.Seconds(), float64(s.n)/published.Seconds(), elapsed.Seconds(), float64((cpuTime()-cpu0).Microseconds())/float64(s.n))
	return result{name: "raw amqp091-go, confirms, window " + fmt.Sprint(s.window), events: s.n, elapsed: elapsed}, nil
}

// pipeline is a producing service (its database with the outbox, and the
// relay) and a consuming service (its subscriber, inbox and database).
type pipeline struct {
	url      string
	opts     []amqp.Option
	dir      string
	producer *sqlitedb.DB
	consumer *sqlitedb.DB
	relay    *outbox.Relay
	pub      *amqp.Publisher
	ib       *inbox.Inbox
	sub      *amqp.Subscriber // the running one, once stages started it
	subDone  context.CancelFunc
	cancel   context.CancelFunc
	stopped  sync.WaitGroup
	s        settings

	mu        sync.Mutex
	latencies []time.Duration
	want      int           // events of the current run
	done      chan struct{} // closed when want events were handled

	batches, batched atomic.Int64 // the relay's PublishBatch calls and their events

	tracing atomic.Bool
	traceMu sync.Mutex
	traces  map[string]*trace // by event ID, while tracing
}

// trace is when one event passed each stage.
type trace struct {
	committed time.Time // the producer's clock in the event data
	sent      time.Time // the relay handed its batch to the Publisher
	confirmed time.Time // the Publisher returned, the broker having confirmed
	received  time.Time // the Subscriber handed it to the inbox
	done      time.Time // the consumer's transaction committed
}

func (p *pipeline) stamp(id string, f func(*trace)) {
	if !p.tracing.Load() {
		return
	}
	p.traceMu.Lock()
	defer p.traceMu.Unlock()
	t := p.traces[id]
	if t == nil {
		t = &trace{}
		p.traces[id] = t
	}
	f(t)
}

// timedPublisher records when the relay's batches went out and came back.
type timedPublisher struct {
	*amqp.Publisher
	p *pipeline
}

func (t timedPublisher) Publish(ctx context.Context, e shop.Event) error {
	return t.PublishBatch(ctx, []shop.Event{e})[0]
}

func (t timedPublisher) PublishBatch(ctx context.Context, events []shop.Event) []error {
	t.p.batches.Add(1)
	t.p.batched.Add(int64(len(events)))
	sent := time.Now()
	errs := t.Publisher.PublishBatch(ctx, events)
	confirmed := time.Now()
	for i, e := range events {
		if errs[i] == nil {
			t.p.stamp(e.ID, func(tr *trace) { tr.sent, tr.confirmed = sent, confirmed })
		}
	}
	return errs
}

const eventType = "bench.happened"

type benchData struct {
	Seq int `json:"seq"`
	// CommittedAt is the producer's clock just before its commit, in Unix ns.
	CommittedAt int64 `json:"committed_at"`
}

func newPipeline(ctx context.Context, s settings) (*pipeline, error) {
	id := "kitshop-bench-" + shop.NewID()
	logger := level.NewFilter(log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr)), level.AllowWarn())
	p := &pipeline{s: s, url: s.url, opts: []amqp.Option{amqp.WithExchange(id + ".events"), amqp.WithQueuePrefix(id),
		amqp.WithLogger(logger), amqp.WithPrefetch(s.prefetch), amqp.WithConcurrency(s.workers)}}
	var err error
	if p.dir, err = os.MkdirTemp("", "kitshop-eventbench-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*pipeline, error) {
		p.close()
		return nil, err
	}
	if p.producer, err = sqlitedb.Open(ctx, filepath.Join(p.dir, "producer.db"),
		fstest.MapFS{"0001_outbox.sql": {Data: []byte(outbox.Schema)}}); err != nil {
		return fail(err)
	}
	if p.consumer, err = sqlitedb.Open(ctx, filepath.Join(p.dir, "consumer.db"),
		fstest.MapFS{"0001_init.sql": {Data: []byte(inbox.Schema + `
CREATE TABLE effects (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;`)}}); err != nil {
		return fail(err)
	}
	if p.pub, err = amqp.NewPublisher(s.url, p.opts...); err != nil {
		return fail(err)
	}
	p.ib = inbox.New(p.consumer.W, "consumer", inbox.ReadFrom(p.consumer.R), inbox.DeadLetterToTransport())
	runCtx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	p.relay = outbox.NewRelay(p.producer, timedPublisher{p.pub, p}, logger)
	p.relay.Batch = s.relayBatch
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		p.relay.Run(runCtx)
	}()
	return p, nil
}

// handle is the consumer's handler: its effect and (through sqlitedb.Tx)
// the inbox's mark commit together; the latency is taken after the commit.
func (p *pipeline) handle(ctx context.Context, e shop.Event) error {
	var d benchData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return fmt.Errorf("%w: %v", shop.ErrDeadLetter, err)
	}
	err := p.consumer.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO effects(event_id, seq) VALUES (?, ?)`, e.ID, d.Seq)
		return err
	})
	if err != nil {
		return err // inbox.ErrHandled included: the inbox counts it as done
	}
	now := time.Now()
	lat := now.Sub(time.Unix(0, d.CommittedAt))
	p.stamp(e.ID, func(tr *trace) { tr.committed, tr.done = time.Unix(0, d.CommittedAt), now })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latencies = append(p.latencies, lat)
	if len(p.latencies) == p.want {
		close(p.done)
	}
	return nil
}

// expect resets the counters for a run of n events.
func (p *pipeline) expect(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latencies = p.latencies[:0]
	p.want = n
	p.done = make(chan struct{})
}

func (p *pipeline) wait() error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Minute):
		p.mu.Lock()
		defer p.mu.Unlock()
		return fmt.Errorf("only %d of %d events arrived within 10 minutes", len(p.latencies), p.want)
	}
}

func (p *pipeline) result(name string, n int, elapsed time.Duration) result {
	p.mu.Lock()
	defer p.mu.Unlock()
	lat := slices.Clone(p.latencies)
	slices.Sort(lat)
	return result{name: name, events: n, elapsed: elapsed, latencies: lat}
}

// commit writes one event into the outbox in its own transaction and wakes
// the relay.
func (p *pipeline) commit(seq, subjects int) error {
	err := p.producer.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
		raw, _ := json.Marshal(benchData{Seq: seq, CommittedAt: time.Now().UnixNano()})
		e := shop.Event{SpecVersion: "1.0", ID: shop.NewID(), Source: "producer", Type: eventType,
			Subject: fmt.Sprintf("s%d", seq%subjects), Time: time.Now().UTC(), DataType: "application/json", Data: raw}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	p.relay.Notify()
	return nil
}

// subscriber returns a subscriber of the consuming service, its handler
// wrapped by the inbox.
func (p *pipeline) subscriber() (*amqp.Subscriber, error) {
	sub, err := amqp.NewSubscriber(p.url, "consumer", p.opts...)
	if err != nil {
		return nil, err
	}
	h := p.ib.Handle(eventType, p.handle)
	received := func(ctx context.Context, e shop.Event) error {
		p.stamp(e.ID, func(tr *trace) { tr.received = time.Now() })
		return h(ctx, e)
	}
	if err := sub.Subscribe(eventType, received); err != nil {
		return nil, err
	}
	return sub, nil
}

// produce commits events seq from..to-1 from s.producers goroutines, one
// event per transaction, as fast as they go.
func (p *pipeline) produce(from, to int) error {
	var next atomic.Int64
	next.Store(int64(from))
	errs := make(chan error, p.s.producers)
	var wg sync.WaitGroup
	for range p.s.producers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= to {
					return
				}
				if err := p.commit(i, p.s.subjects); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// published waits until the outbox is empty.
func (p *pipeline) published() error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		n, err := outbox.Pending(context.Background(), p.producer)
		if err != nil || n == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d events still in the outbox after 10 minutes", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stages measures the two halves apart: the queue exists but nobody
// consumes while producers commit s.n events and the relay publishes them
// (outbox to broker); then a subscriber drains the full queue (broker to
// consumer commit). The subscriber keeps running for the later runs.
func (p *pipeline) stages(ctx context.Context, s settings) (relayed, consumed result, err error) {
	declare, err := p.subscriber()
	if err != nil {
		return result{}, result{}, err
	}
	dctx, stop := context.WithCancel(ctx)
	if err := declare.Start(dctx); err != nil {
		stop()
		return result{}, result{}, err
	}
	stop()
	<-declare.Done()

	begin := time.Now()
	if err := p.produce(0, s.n); err != nil {
		return result{}, result{}, err
	}
	if err := p.published(); err != nil {
		return result{}, result{}, err
	}
	relayed = result{name: "outbox to broker (relay, Publisher)", events: s.n, elapsed: time.Since(begin)}

	p.expect(s.n)
	begin = time.Now()
	if err := p.startSubscriber(ctx); err != nil {
		return result{}, result{}, err
	}
	if err := p.wait(); err != nil {
		return result{}, result{}, err
	}
	consumed = result{name: "broker to consumer commit (Subscriber, inbox)", events: s.n, elapsed: time.Since(begin)}
	return relayed, consumed, nil
}

// startSubscriber starts the subscriber the later runs use.
func (p *pipeline) startSubscriber(ctx context.Context) error {
	sub, err := p.subscriber()
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	if err := sub.Start(sctx); err != nil {
		stop()
		return err
	}
	p.sub, p.subDone = sub, stop
	return nil
}

// fullSpeed warms up, then commits s.n events from s.producers goroutines
// as fast as they go and waits until the consumer committed them all.
func (p *pipeline) fullSpeed(s settings) (result, error) {
	warm := min(500, s.n)
	p.expect(warm)
	for i := range warm {
		if err := p.commit(i, s.subjects); err != nil {
			return result{}, err
		}
	}
	if err := p.wait(); err != nil {
		return result{}, fmt.Errorf("warm-up: %w", err)
	}

	p.expect(s.n)
	if s.cpuProfile != "" {
		f, err := os.Create(s.cpuProfile)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	b0, e0 := p.batches.Load(), p.batched.Load()
	begin := time.Now()
	if err := p.produce(0, s.n); err != nil {
		return result{}, err
	}
	committed := time.Since(begin)
	// When the relay has published everything tells which stage lags.
	relayed := make(chan time.Duration, 1)
	go func() {
		for {
			if n, err := outbox.Pending(context.Background(), p.producer); err != nil || n == 0 {
				relayed <- time.Since(begin)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := p.wait(); err != nil {
		return result{}, err
	}
	elapsed := time.Since(begin)
	fmt.Printf("end to end: %d committed by %d producers in %.2fs (%.0f/s), all published by %.2fs in batches of %.0f on average, all consumed by %.2fs; this process used %.0f%% of a core, %.0fµs of CPU per event\n",
		s.n, s.producers, committed.Seconds(), float64(s.n)/committed.Seconds(), (<-relayed).Seconds(),
		float64(p.batched.Load()-e0)/float64(max(1, p.batches.Load()-b0)), elapsed.Seconds(),
		100*(cpuTime()-cpu0).Seconds()/elapsed.Seconds(), float64((cpuTime()-cpu0).Microseconds())/float64(s.n))
	return p.result("end to end, full speed", s.n, elapsed), nil
}

// paced commits s.rate events per second for s.d, one per transaction,
// each at its scheduled time, and measures commit-to-commit latency.
func (p *pipeline) paced(s settings) (result, error) {
	n := int(float64(s.rate) * s.d.Seconds())
	p.expect(n)
	p.traceMu.Lock()
	p.traces = map[string]*trace{}
	p.traceMu.Unlock()
	p.tracing.Store(true)
	defer p.tracing.Store(false)
	interval := time.Second / time.Duration(s.rate)
	begin := time.Now()
	late := 0
	for i := range n {
		at := begin.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		} else if wait < -interval {
			late++
		}
		if err := p.commit(i, s.subjects); err != nil {
			return result{}, err
		}
	}
	if err := p.wait(); err != nil {
		return result{}, err
	}
	elapsed := time.Since(begin)
	if late > 0 {
		fmt.Printf("fixed rate: %d of %d commits started more than one interval late\n", late, n)
	}
	p.printStages()
	return p.result(fmt.Sprintf("end to end, %d/s", s.rate), n, elapsed), nil
}

func (p *pipeline) close() {
	if p.subDone != nil {
		p.subDone()
		<-p.sub.Done()
	}
	if p.cancel != nil {
		p.cancel()
		p.stopped.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if p.pub != nil {
		p.pub.Close()
	}
	if p.sub == nil {
		p.sub, _ = amqp.NewSubscriber(p.url, "consumer", p.opts...)
	}
	if p.sub != nil {
		if err := p.sub.DeleteQueues(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "eventbench: delete queues:", err)
		}
		if err := amqp.DeleteExchanges(ctx, p.url, p.opts...); err != nil {
			fmt.Fprintln(os.Stderr, "eventbench: delete exchanges:", err)
		}
	}
	for _, db := range []*sqlitedb.DB{p.producer, p.consumer} {
		if db != nil {
			db.Close()
		}
	}
	os.RemoveAll(p.dir)
}

// cpuTime is the CPU time this process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// printStages prints where the fixed-rate run's events spent their time.
func (p *pipeline) printStages() {
	p.traceMu.Lock()
	defer p.traceMu.Unlock()
	stages := []struct {
		name string
		of   func(*trace) time.Duration
	}{
		{"commit to relay pass (outbox read)", func(t *trace) time.Duration { return t.sent.Sub(t.committed) }},
		{"relay pass to confirm (Publisher, broker)", func(t *trace) time.Duration { return t.confirmed.Sub(t.sent) }},
		{"confirm to subscriber (broker, delivery)", func(t *trace) time.Duration { return t.received.Sub(t.confirmed) }},
		{"subscriber to consumer commit (inbox, SQLite)", func(t *trace) time.Duration { return t.done.Sub(t.received) }},
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "fixed-rate stage\tp50\tp99\tmax\t")
	for _, st := range stages {
		var ds []time.Duration
		for _, t := range p.traces {
			if !t.sent.IsZero() && !t.received.IsZero() && !t.done.IsZero() {
				ds = append(ds, st.of(t))
			}
		}
		slices.Sort(ds)
		r := result{latencies: ds}
		round := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", st.name, round(r.pct(0.5)), round(r.pct(0.99)), round(r.pct(1)))
	}
	w.Flush()
}
