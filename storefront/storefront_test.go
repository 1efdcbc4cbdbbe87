package storefront

import (
	"encoding/json"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// newServer mounts the storefront as the shop does (app.MountPages).
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", Index())
	mux.Handle("GET "+AssetsPath, Assets())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestHeaders(t *testing.T) {
	srv := newServer(t)
	for _, c := range []struct{ path, contentType string }{
		{"/", "text/html; charset=utf-8"},
		{"/assets/app.js", "text/javascript; charset=utf-8"},
		{"/assets/style.css", "text/css; charset=utf-8"},
		{"/assets/icon.svg", "image/svg+xml"},
	} {
		resp, body := get(t, "GET", srv.URL+c.path)
		if resp.StatusCode != http.StatusOK || body == "" {
			t.Fatalf("GET %s: %d, %d bytes", c.path, resp.StatusCode, len(body))
		}
		h := resp.Header
		if got := h.Get("Content-Type"); got != c.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.contentType)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "*") || strings.Contains(csp, "http") {
			t.Errorf("GET %s: Content-Security-Policy %q allows inline code or other origins", c.path, csp)
		}
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "no-cache",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("GET %s: %s %q, want %q", c.path, name, got, want)
			}
		}
		etag := h.Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
			t.Fatalf("GET %s: ETag %q, want a strong one", c.path, etag)
		}
		resp, body = get(t, "GET", srv.URL+c.path, "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("GET %s with its ETag: %d, %d bytes; want 304 and nothing", c.path, resp.StatusCode, len(body))
		}
		resp, body = get(t, "HEAD", srv.URL+c.path)
		if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("Content-Type") != c.contentType {
			t.Errorf("HEAD %s: %d, %d bytes, %q", c.path, resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
		}
	}
}

func TestETagFollowsContent(t *testing.T) {
	srv := newServer(t)
	a, _ := get(t, "GET", srv.URL+"/assets/app.js")
	b, _ := get(t, "GET", srv.URL+"/assets/api.js")
	if a.Header.Get("ETag") == b.Header.Get("ETag") {
		t.Fatal("two different files have the same ETag")
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	srv := newServer(t)
	for _, path := range []string{"/assets/", "/assets/nope.js", "/assets/index.html", "/assets/static/app.js", "/assets/%2e%2e/storefront.go"} {
		resp, body := get(t, "GET", srv.URL+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
			continue
		}
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != "route_not_found" {
			t.Errorf("GET %s: %q, want the shop's JSON error", path, body)
		}
	}
}

func TestOtherMethodsAre405(t *testing.T) {
	for name, h := range map[string]http.Handler{"index": Index(), "assets": Assets()} {
		path := "/"
		if name == "assets" {
			path = "/assets/app.js"
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", path, nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST to %s: %d, Allow %q; want 405 and GET, HEAD", name, w.Code, w.Header().Get("Allow"))
		}
	}
}

// files returns every embedded file's text by its name.
func files(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		out[strings.TrimPrefix(p, "static/")] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The budget: the whole page, scripts and styles under 100 KB.
func TestWeight(t *testing.T) {
	const budget = 100 * 1024
	all := files(t)
	total := 0
	for _, name := range slices.Sorted(maps.Keys(all)) {
		total += len(all[name])
		t.Logf("%-12s %6d bytes", name, len(all[name]))
	}
	t.Logf("total        %6d bytes (budget %d)", total, budget)
	if total >= budget {
		t.Fatalf("the storefront weighs %d bytes, over the %d budget", total, budget)
	}
}

// Every file the page or a module refers to is served, and nothing it
// refers to lives elsewhere.
func TestReferencesResolve(t *testing.T) {
	srv := newServer(t)
	fs := files(t)
	refs := regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`).FindAllStringSubmatch(fs["index.html"], -1)
	imports := regexp.MustCompile(`(?m)^import [^;]*? from '\./([^']+)';|^import '\./([^']+)';`)
	var paths []string
	for _, m := range refs {
		paths = append(paths, m[1])
	}
	for name, text := range fs {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imports.FindAllStringSubmatch(text, -1) {
			paths = append(paths, AssetsPath+m[1]+m[2])
		}
	}
	if len(paths) < 5 {
		t.Fatalf("found only %v; the patterns no longer match the files", paths)
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, AssetsPath) {
			t.Errorf("%q is not under %s", p, AssetsPath)
			continue
		}
		if resp, _ := get(t, "GET", srv.URL+p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s (referred to by the page): %d", p, resp.StatusCode)
		}
	}
}

// Nothing the API says may be parsed as HTML, and the page has no inline
// code the Content-Security-Policy would block.
func TestNoHTMLFromData(t *testing.T) {
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|srcdoc|DOMParser|createContextualFragment`)
	external := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for name, text := range files(t) {
		if name == "icon.svg" {
			text = strings.Replace(text, `xmlns="http://www.w3.org/2000/svg"`, "", 1)
		}
		if m := sinks.FindString(text); m != "" {
			t.Errorf("%s uses %s", name, m)
		}
		if m := external.FindString(text); m != "" {
			t.Errorf("%s refers to %s, another origin", name, m)
		}
	}
	index := files(t)["index.html"]
	scripts := regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`).FindAllStringSubmatch(index, -1)
	if len(scripts) != strings.Count(index, "<script") || len(scripts) == 0 {
		t.Fatalf("index.html has %d <script> tags this test can read, of %d", len(scripts), strings.Count(index, "<script"))
	}
	for _, m := range scripts {
		if !strings.Contains(m[1], ` src="/assets/`) || strings.TrimSpace(m[2]) != "" {
			t.Errorf("index.html has an inline script: %s", m[0])
		}
	}
	if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=`).MatchString(index) {
		t.Error("index.html has an inline style or event handler")
	}
}
