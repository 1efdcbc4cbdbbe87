// Package calls holds what every domain's logging and instrumenting middleware
// does once a call has finished, so the typed per-domain wrappers only name
// the method and the fields worth logging.
package calls

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kitshop/shop"
)

// Log writes one line for a finished call: the method, the caller's fields
// kv, the request ID, how long the call took and its error. The line is at
// info level, so -quiet style filters hide it, and at warn level when the
// error is not the caller's fault (no kind, or ErrUnavailable); the HTTP
// transport logs a 500 at error level itself.
func Log(ctx context.Context, logger log.Logger, method string, begin time.Time, err error, kv ...any) {
	fields := make([]any, 0, len(kv)+10)
	lvl := level.InfoValue()
	if err != nil && (shop.KindOf(err) == nil || errors.Is(err, shop.ErrUnavailable)) {
		lvl = level.WarnValue()
	}
	fields = append(fields, level.Key(), lvl, "method", method)
	fields = append(fields, kv...)
	fields = append(fields, "request_id", shop.RequestIDFrom(ctx), "took", time.Since(begin), "err", err)
	logger.Log(fields...)
}

// Metrics are a service's call counter and latency histogram.
type Metrics struct {
	Requests metrics.Counter
	Latency  metrics.Histogram
}

// Record counts a finished call and observes its duration in seconds, both
// labelled "method" and "code" (shop.CodeOf of the error, "" on success).
func (m Metrics) Record(method string, begin time.Time, err error) {
	code := ""
	if err != nil {
		code = shop.CodeOf(err)
	}
	m.Requests.With("method", method, "code", code).Add(1)
	m.Latency.With("method", method, "code", code).Observe(time.Since(begin).Seconds())
}

// Result unpacks what an endpoint returned on the client side: its
// transport error, or else the response as an R together with the business
// error it carries. A response of another type (an endpoint middleware
// replaced it) is an error naming both types.
func Result[R interface{ Failed() error }](resp any, err error) (R, error) {
	var r R
	if err != nil {
		return r, err
	}
	r, ok := resp.(R)
	if !ok {
		return r, fmt.Errorf("endpoint returned %T, want %T", resp, r)
	}
	return r, r.Failed()
}
