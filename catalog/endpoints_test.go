package catalog

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/go-kit/kit/endpoint"
)

// tracer returns endpoint middleware that records its name on the way in.
func tracer(name string, trail *[]string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			*trail = append(*trail, name)
			return next(ctx, request)
		}
	}
}

func TestMakeServerEndpointsMiddleware(t *testing.T) {
	svc, _ := newTestService(t)
	var trail []string
	e := MakeServerEndpoints(svc, tracer("outer", &trail), tracer("inner", &trail))
	e = e.Wrap(tracer("wrapped", &trail))

	calls := map[string]func() error{
		"create": func() error { _, err := e.CreateProduct(adminCtx, validProduct("EP-1")); return err },
		"get":    func() error { _, err := e.GetProduct(anonCtx, "missing"); return err },
		"update": func() error { _, err := e.UpdateProduct(adminCtx, "missing", ProductPatch{Name: ptr("x")}); return err },
		"delete": func() error { return e.DeleteProduct(adminCtx, "missing") },
		"list":   func() error { _, err := e.ListProducts(anonCtx, ListQuery{}); return err },
	}
	for name, call := range calls {
		trail = nil
		call()
		if strings.Join(trail, ",") != "wrapped,outer,inner" {
			t.Errorf("%s: middleware ran as %v, want wrapped, outer, inner", name, trail)
		}
	}
	// Business errors travel in the response, not as endpoint errors.
	resp, err := e.GetProductEndpoint(anonCtx, GetProductRequest{ID: "missing"})
	if err != nil || resp.(GetProductResponse).Err == nil {
		t.Fatalf("GetProductEndpoint = %+v, %v; want the error inside the response", resp, err)
	}
	if _, err := e.GetProduct(anonCtx, "missing"); err == nil {
		t.Fatal("the client side lost the business error")
	}
}

// Request and response types name every field for JSON, in snake_case, and
// keep errors out of it; embedded domain types carry their own tags.
func TestEndpointTypesJSON(t *testing.T) {
	types := []any{
		CreateProductRequest{}, CreateProductResponse{}, GetProductRequest{}, GetProductResponse{},
		UpdateProductRequest{}, UpdateProductResponse{}, DeleteProductRequest{}, DeleteProductResponse{},
		ListProductsRequest{}, ListProductsResponse{},
		Product{}, NewProduct{}, ProductPatch{}, ListQuery{},
	}
	for _, v := range types {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				continue
			}
			tag, ok := f.Tag.Lookup("json")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case !ok || name == "":
				t.Errorf("%s.%s has no JSON name", typ.Name(), f.Name)
			case f.Name == "Err" && name != "-":
				t.Errorf("%s.Err is in the JSON (%q)", typ.Name(), tag)
			case name != "-" && name != strings.ToLower(name):
				t.Errorf("%s.%s: JSON name %q is not snake_case", typ.Name(), f.Name, name)
			}
		}
	}
}
