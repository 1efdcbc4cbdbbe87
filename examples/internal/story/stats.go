package story

import (
	"cmp"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The steps of the story, as the report names them. Every request the
// virtual customers send belongs to one.
const (
	StepRegister    = "register"     // POST /register
	StepLogin       = "login"        // POST /login
	StepList        = "list"         // GET /products?category (a page of the run's products)
	StepSearch      = "search"       // GET /products?category&q
	StepProduct     = "product"      // GET /products/{id}
	StepStock       = "stock"        // GET /inventory/{id}
	StepPlace       = "place"        // POST /orders
	StepPlaceRetry  = "place-retry"  // POST /orders again with the same Idempotency-Key
	StepPay         = "pay"          // POST /orders/{id}/pay with the test card that is accepted
	StepPayDeclined = "pay-declined" // POST /orders/{id}/pay with the test card that is declined
	StepCancel      = "cancel"       // POST /orders/{id}/cancel
)

// Steps lists every step in the order of the story.
var Steps = []string{StepRegister, StepLogin, StepList, StepSearch, StepProduct, StepStock,
	StepPlace, StepPlaceRetry, StepPay, StepPayDeclined, StepCancel}

// histogram counts durations in buckets that grow by 2^(1/32) (about 2.2%)
// from one microsecond, so a quantile is known within that much in a fixed
// amount of memory however long the run.
type histogram struct {
	counts   [histBuckets]int64
	n        int64
	min, max time.Duration
}

const (
	histPerDoubling = 32
	histBuckets     = histPerDoubling * 32 // up to 2^32 µs, over an hour
)

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return min(int(math.Log2(us)*histPerDoubling), histBuckets-1)
}

// upper is the largest duration bucket i holds.
func upper(i int) time.Duration {
	return time.Duration(math.Exp2(float64(i+1)/histPerDoubling) * float64(time.Microsecond))
}

func (h *histogram) add(d time.Duration) {
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.counts[bucketOf(d)]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the duration below which a share q (0..1) of the
// recorded ones fall, within the bucket width, never beyond the extremes.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(h.n))), 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(max(upper(i), h.min), h.max)
		}
	}
	return h.max
}

// class says what an answer meant to the story.
type class int

const (
	classOK       class = iota // what the step asked for
	classExpected              // a refusal the story provokes on purpose (no stock left, a declined card)
	classRetried               // the shop asked to come back later (429, request_in_progress); the step tried again
	classError                 // anything else: a failed request
)

// outcomeKey groups answers that were not plain successes.
type outcomeKey struct {
	status int    // 0: no answer (the request failed on its way)
	code   string // the error code, or what went wrong on the way
	class  class
}

type outcomeTally struct {
	count   int
	steps   map[string]bool
	example string
}

// stats is what the load measured, safe for concurrent use.
type stats struct {
	mu       sync.Mutex
	hists    map[string]*histogram
	counts   map[string]*[4]int // per step, per class
	outcomes map[outcomeKey]*outcomeTally
	all      histogram

	requests atomic.Int64
	errors   atomic.Int64
}

func newStats() *stats {
	s := &stats{hists: map[string]*histogram{}, counts: map[string]*[4]int{}, outcomes: map[outcomeKey]*outcomeTally{}}
	for _, step := range Steps {
		s.hists[step] = &histogram{}
		s.counts[step] = &[4]int{}
	}
	return s
}

// record notes one answer of step that took d.
func (s *stats) record(step string, d time.Duration, status int, code string, c class, detail string) {
	s.requests.Add(1)
	if c == classError {
		s.errors.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hists[step].add(d)
	s.all.add(d)
	s.counts[step][c]++
	if c == classOK {
		return
	}
	k := outcomeKey{status: status, code: code, class: c}
	t := s.outcomes[k]
	if t == nil {
		t = &outcomeTally{steps: map[string]bool{}, example: detail}
		s.outcomes[k] = t
	}
	t.count++
	t.steps[step] = true
}

// p99 is the 99th percentile of every request so far.
func (s *stats) p99() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all.quantile(0.99)
}

// StepReport is what one step measured: how many requests it sent and how
// they ended (OK, Expected refusals, Retried after 429 or
// request_in_progress, Errors), their rate over the load and their latency
// percentiles.
type StepReport struct {
	Name     string        `json:"name"`
	Requests int           `json:"requests"`
	OK       int           `json:"ok"`
	Expected int           `json:"expected"`
	Retried  int           `json:"retried"`
	Errors   int           `json:"errors"`
	Rate     float64       `json:"rate_per_s"`
	P50      time.Duration `json:"p50_ns"`
	P95      time.Duration `json:"p95_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
}

// Outcome is one kind of answer that was not a plain success: its status
// (0 when no answer came), its error code (or, without an answer, what went
// wrong: timeout, connection_refused, ...), whether the story provoked it on
// purpose (Expected), asked to try again (Retried) or neither (an error),
// how often it happened, in which steps, and the first message seen.
type Outcome struct {
	Status   int      `json:"status"`
	Code     string   `json:"code"`
	Expected bool     `json:"expected"`
	Retried  bool     `json:"retried"`
	Count    int      `json:"count"`
	Steps    []string `json:"steps"`
	Example  string   `json:"example,omitempty"`
}

func (s *stats) steps(elapsed time.Duration) []StepReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StepReport
	for _, name := range Steps {
		h, c := s.hists[name], s.counts[name]
		r := StepReport{Name: name, Requests: int(h.n), OK: c[classOK], Expected: c[classExpected],
			Retried: c[classRetried], Errors: c[classError],
			P50: h.quantile(0.50), P95: h.quantile(0.95), P99: h.quantile(0.99), Max: h.max}
		if elapsed > 0 {
			r.Rate = float64(h.n) / elapsed.Seconds()
		}
		out = append(out, r)
	}
	return out
}

func (s *stats) outcomeList() []Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Outcome
	for k, t := range s.outcomes {
		o := Outcome{Status: k.status, Code: k.code, Expected: k.class == classExpected, Retried: k.class == classRetried,
			Count: t.count, Example: t.example}
		for _, step := range Steps {
			if t.steps[step] {
				o.Steps = append(o.Steps, step)
			}
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Outcome) int {
		if a.Expected != b.Expected || a.Retried != b.Retried { // errors first
			return rank(a) - rank(b)
		}
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if a.Status != b.Status {
			return a.Status - b.Status
		}
		return cmp.Compare(a.Code, b.Code)
	})
	return out
}

func rank(o Outcome) int {
	switch {
	case o.Expected:
		return 2
	case o.Retried:
		return 1
	}
	return 0
}

// transportCode names what went wrong with a request that got no answer.
func transportCode(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection_closed"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "transport_error"
}
