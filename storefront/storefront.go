// Package storefront is the shop's web front end: one HTML page, plain
// JavaScript modules and one style sheet, embedded in the binary, that talk
// to the public API of the same origin and nothing else (no build step, no
// third-party requests). Mount Index at "/" and Assets at AssetsPath on the
// address that serves the public API:
//
//	mux.Handle("GET /{$}", storefront.Index())
//	mux.Handle("GET "+storefront.AssetsPath, storefront.Assets())
//
// Every view is a fragment of the one page (/#/cart, /#/product/ID), so no
// other path is needed. The answers carry a Content-Security-Policy that
// allows scripts, styles, images and API calls from the page's own origin
// only (no inline scripts or styles), X-Content-Type-Options: nosniff, and
// Cache-Control: no-cache with a strong ETag, so a browser revalidates each
// file with a cheap 304 and never runs a stale mix of modules after an
// upgrade.
package storefront

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	shophttp "github.com/kitshop/shop/transport/http"
)

// AssetsPath is where the page expects its scripts, styles and icon: the
// path Assets must be mounted on.
const AssetsPath = "/assets/"

// indexFile is the page itself, served by Index and not under AssetsPath.
const indexFile = "index.html"

// contentSecurityPolicy allows nothing but the page's own origin, and no
// inline script or style.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// file is one embedded file, ready to serve.
type file struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

// load reads the embedded files. They are part of the binary, so a failure
// here is a broken build.
func load() map[string]file {
	files := map[string]file{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "static/")
		files[name] = file{
			name:        name,
			body:        body,
			contentType: contentType(name),
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	if err != nil {
		panic("storefront: reading the embedded files: " + err.Error())
	}
	return files
}

// contentType is the Content-Type of name, by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// serve answers GET and HEAD with f (a 304 when the ETag matches).
func serve(w http.ResponseWriter, r *http.Request, f file) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		shophttp.EncodeError(r.Context(), shophttp.ErrMethodNotAllowed, w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}

// Index serves the storefront's page, whatever the request's path; mount
// it on the root only ("GET /{$}" on a ServeMux).
func Index() http.Handler {
	f := load()[indexFile]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, f)
	})
}

// Assets serves the page's scripts, styles and icon under AssetsPath
// (/assets/app.js); any other path answers the shop's JSON 404.
func Assets() http.Handler {
	files := load()
	delete(files, indexFile)
	notFound := shophttp.NotFound()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, AssetsPath)
		f, found := files[name]
		if !ok || !found {
			notFound.ServeHTTP(w, r)
			return
		}
		serve(w, r, f)
	})
}
