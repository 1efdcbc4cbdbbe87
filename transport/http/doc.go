// Package http holds the go-kit HTTP pieces every kitshop service shares: the
// strict JSON request decoder, the error encoder and its client-side decoder
// (so an error keeps its kind and code across the wire), request IDs, bearer
// token authentication, and the /healthz, /readyz and /metrics handlers.
//
// Import it under a name that does not clash with net/http:
//
//	import shophttp "github.com/kitshop/shop/transport/http"
package http
