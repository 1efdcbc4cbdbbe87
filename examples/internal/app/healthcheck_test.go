package app

import (
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
	if err := Healthcheck(nil); err == nil {
		t.Fatal("no URL: no error")
	}
	srv.Close()
	if err := Healthcheck([]string{srv.URL + "/healthz"}); err == nil {
		t.Fatal("nothing listening: no error")
	}
}
