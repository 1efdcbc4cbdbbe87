package storefront

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The browser test drives e2e/story.mjs (playwright-core, see
// e2e/package.json) in headless Chromium against the real shop binary,
// built from examples/shop, in each topology. It needs node and npm
// (npm ci runs when e2e/node_modules is missing) and Chromium at
// CHROMIUM_PATH (default /usr/bin/chromium, Debian's chromium package).
// Without them it skips, except with CI=true, where it fails. The
// screenshots go to SHOP_TEST_SCREENSHOT_DIR when set, else to a new
// temporary directory that is kept; go test -v prints where.

const (
	e2eAdminEmail    = "admin@example.com"
	e2eAdminPassword = "admin-password-1"
)

// missing skips the test, or fails it under CI=true.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// browserTools returns node's path and Chromium's, with e2e's npm
// dependencies installed.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	chromium = os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing(t, "no Chromium at %s (Debian: apt-get install chromium; or set CHROMIUM_PATH): %v", chromium, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not on PATH; the browser test runs e2e/story.mjs with it")
	}
	if _, err := os.Stat(filepath.Join("e2e", "node_modules", "playwright-core")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			missing(t, "npm is not on PATH; it installs e2e's dependencies (npm ci)")
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = "e2e"
		if out, err := cmd.CombinedOutput(); err != nil {
			missing(t, "npm ci in storefront/e2e: %v\n%s", err, out)
		}
	}
	return node, chromium
}

// buildShop builds examples/shop into a temporary directory.
func buildShop(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "shop")
	if out, err := exec.Command(gobin, "build", "-o", bin, "../examples/shop").CombinedOutput(); err != nil {
		t.Fatalf("go build ../examples/shop: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is the test's environment without SHOP_ settings, which would
// change what the shop does.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHOP_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// freeAddr returns a loopback address no listener holds right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startShop runs bin with args on a fresh data dir and returns its base
// URL once /readyz answers 200. The shop is stopped with SIGINT when the
// test ends.
func startShop(t *testing.T, bin string, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	args = append([]string{"-addr", addr, "-data-dir", t.TempDir(), "-admin-email", e2eAdminEmail,
		"-admin-password", e2eAdminPassword, "-bcrypt-cost", "4", "-quiet"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir() // no .env
	cmd.Env = cleanEnv()
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("the shop did not stop within 20s of SIGINT\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("the shop exited before it was ready: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shop was not ready within 90s\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshotRoot is where the screenshots go, one directory per topology.
func screenshotRoot(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("SHOP_TEST_SCREENSHOT_DIR"); root != "" {
		return root
	}
	root, err := os.MkdirTemp("", "kitshop-storefront-")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestStorefrontInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test builds and starts the shop; skipped with -short")
	}
	node, chromium := browserTools(t)
	bin := buildShop(t)
	root := screenshotRoot(t)
	for _, topo := range []struct {
		name string
		args []string
	}{
		{"monolith", nil},
		{"split", []string{"-topology", "split", "-service-port", "0", "-gateway-limits=false"}},
	} {
		t.Run(topo.name, func(t *testing.T) {
			base := startShop(t, bin, topo.args...)
			shots := filepath.Join(root, topo.name)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "story.mjs", base, shots)
			cmd.Dir = "e2e"
			cmd.Env = append(os.Environ(), "CHROMIUM_PATH="+chromium,
				"E2E_ADMIN_EMAIL="+e2eAdminEmail, "E2E_ADMIN_PASSWORD="+e2eAdminPassword)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the story failed in the browser (%v); screenshots so far in %s:\n%s", err, shots, out)
			}
			t.Logf("the story held against the %s shop; screenshots in %s\n%s", topo.name, shots, out)
		})
	}
}
