package app

import (
	"net/http"

	"github.com/kitshop/shop/api"
	"github.com/kitshop/shop/storefront"
)

// Pages are what the shop's public address serves besides the API: a key
// is an exact path ("/openapi.yaml", "/") or, ending in a slash other than
// "/", a directory of files ("/assets/"). The gateway serves them itself
// (gateway.Config.Local); the monolith mounts them with MountPages.
func Pages() map[string]http.Handler {
	return map[string]http.Handler{
		api.Path: api.Handler(),

		// The storefront: its page at the root, its scripts and styles.
		"/":                   storefront.Index(),
		storefront.AssetsPath: storefront.Assets(),
	}
}

// MountPages mounts Pages on mux for GET (and HEAD).
func MountPages(mux *http.ServeMux) {
	for key, h := range Pages() {
		if key == "/" {
			key = "/{$}" // the root only; a ServeMux pattern "/" would take every path
		}
		mux.Handle("GET "+key, h)
	}
}
