package http_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
)

// seenID records the request ID a handler found in its context.
func seenID(got *string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = shop.RequestIDFrom(r.Context())
	})
}

func isGeneratedID(id string) bool {
	b, err := hex.DecodeString(id)
	return err == nil && len(b) == 12
}

func TestWithRequestID(t *testing.T) {
	tests := []struct {
		name     string
		header   []string // nil: no header at all
		wantKept bool
	}{
		{"absent", nil, false},
		{"empty", []string{""}, false},
		{"sane", []string{"abc-123_XYZ.7"}, true},
		{"uuid", []string{"0b9d5e2c-3f4a-4c1e-9b8d-5a1c2e3f4a5b"}, true},
		{"printable punctuation", []string{"a:b/c=d~e!f"}, true},
		{"exactly 128", []string{strings.Repeat("a", 128)}, true},
		{"129 characters", []string{strings.Repeat("a", 129)}, false},
		{"space", []string{"a b"}, false},
		{"tab", []string{"a\tb"}, false},
		{"control character", []string{"a\x01b"}, false},
		{"delete", []string{"a\x7fb"}, false},
		{"non-ASCII", []string{"réquest"}, false},
		{"log injection", []string{"ok\" level=error msg=\"forged"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := shophttp.WithRequestID(seenID(&got))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.header {
				r.Header.Set(shophttp.RequestIDHeader, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if echoed := rec.Header().Get(shophttp.RequestIDHeader); echoed != got {
				t.Errorf("echoed %q, context holds %q", echoed, got)
			}
			if tt.wantKept {
				if got != tt.header[0] {
					t.Errorf("request ID = %q, want the caller's %q", got, tt.header[0])
				}
				return
			}
			if !isGeneratedID(got) {
				t.Errorf("request ID = %q, want a fresh generated one", got)
			}
		})
	}
}

func TestWithRequestIDOverRealHTTP(t *testing.T) {
	var got string
	srv := httptest.NewServer(shophttp.WithRequestID(seenID(&got)))
	defer srv.Close()

	ids := map[string]bool{}
	for range 3 {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		echoed := resp.Header.Get(shophttp.RequestIDHeader)
		if echoed == "" || echoed != got {
			t.Fatalf("echoed %q, handler saw %q", echoed, got)
		}
		ids[echoed] = true
	}
	if len(ids) != 3 {
		t.Errorf("three requests got %d distinct IDs", len(ids))
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set(shophttp.RequestIDHeader, "from-the-gateway")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if echoed := resp.Header.Get(shophttp.RequestIDHeader); echoed != "from-the-gateway" || got != "from-the-gateway" {
		t.Errorf("echoed %q, handler saw %q; want from-the-gateway", echoed, got)
	}
}

func TestNewRequestID(t *testing.T) {
	a, b := shophttp.NewRequestID(), shophttp.NewRequestID()
	if !isGeneratedID(a) || !isGeneratedID(b) {
		t.Errorf("NewRequestID = %q, %q; want 24 hex characters", a, b)
	}
	if a == b {
		t.Errorf("NewRequestID repeated %q", a)
	}
}

func TestPassRequestID(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	ctx := shop.WithRequestID(context.Background(), "req-42")
	if got := shophttp.PassRequestID(ctx, r); got != ctx {
		t.Error("PassRequestID changed the context")
	}
	if h := r.Header.Get(shophttp.RequestIDHeader); h != "req-42" {
		t.Errorf("header = %q, want req-42", h)
	}

	r2 := httptest.NewRequest(http.MethodGet, "/", nil)
	shophttp.PassRequestID(context.Background(), r2)
	if _, ok := r2.Header[shophttp.RequestIDHeader]; ok {
		t.Errorf("header set to %q without a request ID in the context", r2.Header.Get(shophttp.RequestIDHeader))
	}
}
