package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kitshop/shop/api"
	"github.com/kitshop/shop/transport/gateway"
)

func load(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.Document)
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3.0 document: %v", err)
	}
	return doc
}

func TestDocumentIsValid(t *testing.T) {
	doc := load(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, want 3.0.3", doc.OpenAPI)
	}
	// Every operation: an ID, and no catch-all answer that would let an
	// undocumented status pass the contract test.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if op.Responses.Default() != nil {
				t.Errorf("%s %s has a default response; list its statuses", method, path)
			}
		}
	}
}

// The document and the gateway's route table (the public door of both
// topologies) list the same routes, and the operations routes the shop and
// the gateway serve themselves.
func TestDocumentedRoutesAreTheRoutes(t *testing.T) {
	doc := load(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	norm := func(method, path string) string { return method + " " + param.ReplaceAllString(path, "{}") }
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, norm(method, path))
		}
	}
	routed := []string{norm("GET", "/healthz"), norm("GET", "/readyz"), norm("GET", "/metrics"), norm("GET", api.Path)}
	for _, r := range gateway.DefaultRoutes() {
		routed = append(routed, norm(r.Method, r.Pattern))
		// A route the gateway checks tokens on needs the bearer scheme in
		// the document, and one it does not is public there.
		if item := doc.Paths.Find(r.Pattern); item != nil {
			if op := item.GetOperation(r.Method); op != nil {
				public := op.Security != nil && len(*op.Security) == 0
				if public == r.Auth {
					t.Errorf("%s: the gateway's Auth is %v, the document's security public=%v", r, r.Auth, public)
				}
			}
		}
	}
	sort.Strings(documented)
	sort.Strings(routed)
	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is routed but not documented", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("%s is documented but not routed", d)
		}
	}
}

func TestHandlerServesTheDocument(t *testing.T) {
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.Path, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != api.ContentType || rec.Body.String() != string(api.Document) {
		t.Fatalf("GET %s = %d %q, %d bytes", api.Path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
}
