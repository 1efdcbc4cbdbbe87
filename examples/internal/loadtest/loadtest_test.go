package loadtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsAnswersAndFailures(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Test") != "yes" || string(body) != `{"n":1}` {
			http.Error(w, "request lost its header or body", http.StatusBadRequest)
			return
		}
		if served.Add(1)%10 == 0 {
			http.Error(w, "every tenth fails", http.StatusConflict)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
	req.Header.Set("X-Test", "yes")
	res := Run(req, []byte(`{"n":1}`), 4, 300*time.Millisecond)
	if res.Requests == 0 || res.RPS <= 0 {
		t.Fatalf("result %+v: no requests measured", res)
	}
	if res.Errors != 0 {
		t.Fatalf("%d transport errors: %s", res.Errors, res.FirstFail)
	}
	// About a tenth failed on purpose; none failed for a lost header or body.
	if res.Non2xx == 0 || res.Non2xx > res.Requests/5 || !strings.Contains(res.FirstFail, "409") {
		t.Fatalf("non-2xx %d of %d, first failure %q", res.Non2xx, res.Requests, res.FirstFail)
	}
	if !(res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) {
		t.Fatalf("percentiles out of order: %+v", res)
	}
}
