package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(`{"status":"not ready","failing":["inventory"]}`))
	}))
	defer srv.Close()
	if err := Healthcheck([]string{srv.URL + "/readyz"}); err != nil {
		t.Fatalf("a 200 answer: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := Healthcheck([]string{srv.URL + "/readyz"}); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "inventory") {
		t.Fatalf("a 503 answer: %v, want an error with the status and the body", err)
	}
	t.Setenv("SHOP_ADDR", "0.0.0.0:"+srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	if err := Healthcheck(nil); err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:") || !strings.Contains(err.Error(), "/healthz answered 503") {
		t.Fatalf("no URL, SHOP_ADDR on a wildcard host: %v, want /healthz asked on loopback", err)
	}
	t.Setenv("SHOP_ADDR", "")
	if err := Healthcheck(nil); err == nil {
		t.Fatal("no URL and no SHOP_ADDR: no error")
	}
	if err := Healthcheck([]string{"a", "b"}); err == nil {
		t.Fatal("two URLs: no error")
	}
	srv.Close()
	if err := Healthcheck([]string{srv.URL + "/healthz"}); err == nil {
		t.Fatal("nothing listening: no error")
	}
}

func TestJSONLogs(t *testing.T) {
	var out strings.Builder
	l := LogSettings{Format: JSONFormat}
	if err := l.CheckLog(); err != nil {
		t.Fatal(err)
	}
	logger, flush := l.NewLogger(&out)
	logger.Log("msg", "hello", "n", 1)
	flush()
	var line map[string]any
	if err := json.Unmarshal([]byte(out.String()), &line); err != nil || line["msg"] != "hello" || line["n"] != float64(1) || line["ts"] == nil {
		t.Fatalf("json log line %q: %v %v", out.String(), line, err)
	}
	if err := (&LogSettings{Format: "xml"}).CheckLog(); err == nil || !strings.Contains(err.Error(), "log-format (SHOP_LOG_FORMAT)") {
		t.Fatalf("format xml: %v", err)
	}
}
