package apitest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kitshop/shop/api/apitest"
)

// A shop that answers whatever the case says, to show the checker fails on
// each kind of answer the document does not describe.
func TestCheckerFailsOnWhatTheDocumentDoesNotDescribe(t *testing.T) {
	const product = `"id":"p1","sku":"MUG-1","name":"Mug","price":1299,"currency":"USD","created_at":"2026-12-01T10:00:00Z","updated_at":"2026-12-01T10:00:00Z"`
	cases := []struct {
		name, method, path, reqBody string
		status                      int
		body                        string
		wantErr                     string // "" for a described answer
	}{
		{"a described product", "GET", "/products/p1", "", 200, "{" + product + "}", ""},
		{"a described refusal", "GET", "/products/p1", "", 404, `{"error":{"kind":"not_found","code":"product_not_found","message":"no such product"}}`, ""},
		{"an unknown route refused", "GET", "/no/such", "", 404, `{"error":{"kind":"not_found","code":"route_not_found","message":"no route"}}`, ""},
		{"an extra field", "GET", "/products/p1", "", 200, "{" + product + `,"cost_price":700}`, "cost_price"},
		{"a missing field", "GET", "/products/p1", "", 200, `{"id":"p1","sku":"MUG-1","name":"Mug","price":1299,"created_at":"2026-12-01T10:00:00Z","updated_at":"2026-12-01T10:00:00Z"}`, "currency"},
		{"a wrong type", "GET", "/products/p1", "", 200, strings.Replace("{"+product+"}", `"price":1299`, `"price":"12.99"`, 1), "price"},
		{"an undocumented status", "GET", "/products/p1", "", 418, `{"error":{"kind":"invalid","code":"teapot","message":"no"}}`, "418"},
		{"an error in another shape", "GET", "/products/p1", "", 404, `not found`, "404"},
		{"an unknown route answered", "GET", "/no/such", "", 200, `{}`, "not in the document"},
		{"a refused request that succeeded", "POST", "/orders", `{"items":"all"}`, 201, `{}`, "succeeded"},
	}
	c, err := apitest.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			var got error
			client := c.Client(func(format string, args ...any) {
				if len(args) > 0 {
					got, _ = args[0].(error)
				}
			})
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.reqBody))
			if tc.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer t")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case tc.wantErr == "" && got != nil:
				t.Fatalf("a described answer was refused: %v", got)
			case tc.wantErr != "" && (got == nil || !strings.Contains(got.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error about %q", got, tc.wantErr)
			}
		})
	}
}
