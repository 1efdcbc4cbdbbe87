// Package unpack holds the one step every domain's client-side Endpoints
// take after calling an endpoint: telling a transport failure from a
// business error carried in the response.
package unpack

import "fmt"

// Response unpacks what an endpoint returned on the client side: its
// transport error, or else the response as an R together with the business
// error it carries. A response of another type (an endpoint middleware
// replaced it) is an error naming both types.
func Response[R interface{ Failed() error }](resp any, err error) (R, error) {
	var r R
	if err != nil {
		return r, err
	}
	r, ok := resp.(R)
	if !ok {
		return r, fmt.Errorf("endpoint returned %T, want %T", resp, r)
	}
	return r, r.Failed()
}
