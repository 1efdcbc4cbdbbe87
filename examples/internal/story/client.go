package story

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// call is one request to the shop's public API.
type call struct {
	step   string // the step it is counted in; "" for setup and check requests, which are not
	method string
	path   string // with its query
	token  string
	body   any    // sent as JSON when not nil
	key    string // the Idempotency-Key, if any
	want   int    // the status of success
	// expect lists the error codes the story provokes on purpose: an
	// answer with one of them is an expected refusal, not an error.
	expect []string
	out    any // the success's body is decoded into it when not nil
}

// answer is how a call ended: the status and error code of the last answer,
// or err when none came.
type answer struct {
	success bool // the status of success, with the body expected
	status  int
	code    string
	message string
	err     error
}

// unknown says whether the call's effect is unknown: no answer came, or a
// 5xx, after which the shop may or may not have done what was asked.
func (a answer) unknown() bool { return a.err != nil || a.status >= 500 }

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	if a.code != "" {
		return fmt.Sprintf("%d %s: %s", a.status, a.code, a.message)
	}
	return strconv.Itoa(a.status)
}

// client sends calls to one shop and counts them in stats (when not nil).
type client struct {
	base    string
	http    *http.Client
	timeout time.Duration
	stats   *stats
}

// maxRetries bounds how often a call is sent again after 429 or
// request_in_progress.
const maxRetries = 8

// do sends c, again after 429 Too Many Requests or 409
// request_in_progress (waiting what Retry-After says, at most 5 s), and
// returns its last answer.
func (cl *client) do(ctx context.Context, c call) answer {
	for attempt := 0; ; attempt++ {
		a, retryAfter := cl.once(ctx, c)
		if retryAfter < 0 || attempt == maxRetries {
			return a
		}
		select {
		case <-ctx.Done():
			return a
		case <-time.After(retryAfter):
		}
	}
}

// once sends c once. retryAfter is how long to wait before sending it again,
// or negative when the answer is final.
func (cl *client) once(ctx context.Context, c call) (a answer, retryAfter time.Duration) {
	rctx, cancel := context.WithTimeout(ctx, cl.timeout)
	defer cancel()
	var body io.Reader
	if c.body != nil {
		raw, err := json.Marshal(c.body)
		if err != nil {
			panic("story: a request body that is not JSON: " + err.Error()) // our own types: a bug
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(rctx, c.method, cl.base+c.path, body)
	if err != nil {
		return answer{err: err}, -1
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.key != "" {
		req.Header.Set("Idempotency-Key", c.key)
	}
	start := time.Now()
	resp, err := cl.http.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
	}
	took := time.Since(start)
	retryAfter = -1
	cls := classOK
	switch {
	case err != nil:
		a = answer{err: fmt.Errorf("%s %s: %w", c.method, c.path, err)}
		a.code = transportCode(err)
		cls = classError
	case resp.StatusCode == c.want:
		a = answer{status: resp.StatusCode}
		if c.out != nil {
			if err := json.Unmarshal(raw, c.out); err != nil {
				a = answer{status: resp.StatusCode, code: "bad_answer", message: fmt.Sprintf("%s %s: the answer is not the JSON expected: %v", c.method, c.path, err)}
				cls = classError
			}
		}
	default:
		a = answer{status: resp.StatusCode}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			a.code, a.message = e.Error.Code, e.Error.Message
		} else {
			a.code, a.message = "no_error_code", strings.TrimSpace(string(raw[:min(len(raw), 200)]))
		}
		switch {
		case a.status == http.StatusTooManyRequests || a.code == "request_in_progress":
			cls = classRetried
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		case a.status >= 400 && a.status < 500 && slices.Contains(c.expect, a.code):
			cls = classExpected
		default:
			cls = classError
		}
	}
	a.success = cls == classOK
	if cl.stats != nil && c.step != "" {
		detail := ""
		if cls != classOK {
			detail = fmt.Sprintf("%s %s: %s", c.method, redactIDs(c.path), a)
		}
		cl.stats.record(c.step, took, a.status, a.code, cls, detail)
	}
	return a, retryAfter
}

// parseRetryAfter reads Retry-After in seconds: at least 100 ms, at most
// 5 s, and 1 s when it is missing or not a number.
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return time.Second
	}
	return min(max(time.Duration(n)*time.Second, 100*time.Millisecond), 5*time.Second)
}

// redactIDs shortens a path for the report: the query goes, and so do the
// IDs in it, so outcomes of the same kind read alike.
func redactIDs(path string) string {
	path, _, _ = strings.Cut(path, "?")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if i == 2 && p != "" {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}
