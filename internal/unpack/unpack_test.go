package unpack_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/unpack"
)

type resp struct {
	N   int
	Err error
}

func (r resp) Failed() error { return r.Err }

func TestResponse(t *testing.T) {
	transport := errors.New("connection refused")
	business := shop.E(shop.ErrNotFound, "thing_not_found", "no thing")
	if _, err := unpack.Response[resp](nil, transport); err != transport {
		t.Fatalf("transport error = %v", err)
	}
	if r, err := unpack.Response[resp](resp{N: 1, Err: business}, nil); err != business || r.N != 1 {
		t.Fatalf("business error = %v, %v", r, err)
	}
	if r, err := unpack.Response[resp](resp{N: 2}, nil); err != nil || r.N != 2 {
		t.Fatalf("success = %v, %v", r, err)
	}
	if _, err := unpack.Response[resp]("surprise", nil); err == nil || !strings.Contains(err.Error(), "string") {
		t.Fatalf("wrong type = %v, want an error naming it", err)
	}
}
