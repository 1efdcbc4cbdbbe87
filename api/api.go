// Package api holds the shop's public API as a contract: the OpenAPI 3.0
// document openapi.yaml, embedded in every binary that serves the API and
// served at GET /openapi.yaml by the shop and by the gateway. Read it,
// generate clients from it, or check a running shop against it (package
// api/apitest does, in the end-to-end tests).
package api

import (
	_ "embed"
	"net/http"
)

// Document is openapi.yaml, the OpenAPI document of the public API.
//
//go:embed openapi.yaml
var Document []byte

// Path is where the shop and the gateway serve the document.
const Path = "/openapi.yaml"

// ContentType is the media type the document is served with.
const ContentType = "application/yaml"

// Handler serves Document.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(Document)
	})
}
