// Package binarytest holds what the example binaries' tests share: building
// a binary, running it in an environment free of the caller's SHOP_
// settings, a free address to listen on, and the check that start-up
// mistakes exit 1 with one line.
package binarytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
)

// Build builds the package in dir (".", "../usersvc") into a temporary
// directory and returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	name := filepath.Base(dir)
	if name == "." {
		wd, _ := os.Getwd()
		name = filepath.Base(wd)
	}
	bin := filepath.Join(t.TempDir(), name)
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command(gobin, "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// CleanEnv returns the test's environment without SHOP_ settings, which
// would change what the binary under test does, followed by extra.
func CleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHOP_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// FreeAddr returns a loopback address no listener holds right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// AddCustomer registers a customer in the user database of dataDir.
func AddCustomer(t testing.TB, dataDir, email, password string) {
	t.Helper()
	ctx := context.Background()
	store, err := user.OpenSQLiteStore(ctx, filepath.Join(dataDir, "user.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tokens, err := user.NewTokens([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(store, tokens, user.WithBcryptCost(4))
	if _, err := svc.Register(ctx, user.Registration{Email: email, Password: password, Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
}

// StartupCase is one start-up mistake: the arguments and environment that
// make it, and the words the one line on stderr must hold.
type StartupCase struct {
	Name string
	Args []string
	Env  []string
	Want []string
	// AsRoot false skips the case as root, who may write anywhere.
	AsRoot bool
}

// CheckStartupErrors runs bin (named name in its messages) with base and
// each case's arguments: each must exit 1 with exactly one line on stderr,
// "name: ...", holding the case's words and none of secrets, and print
// nothing on stdout.
func CheckStartupErrors(t *testing.T, bin, name string, base, secrets []string, cases []StartupCase) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if !c.AsRoot && os.Geteuid() == 0 {
				t.Skip("root may write to any directory")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(append([]string{"-data-dir", t.TempDir()}, base...), c.Args...)...)
			cmd.Dir = t.TempDir() // no .env
			cmd.Env = CleanEnv(c.Env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("%s started; stderr:\n%s", name, stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("exit code %d (%v), want 1", code, err)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %q, want nothing", stdout.String())
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], name+": ") {
				t.Fatalf("stderr has %d lines, want one starting with %q:\n%s", len(lines), name+": ", stderr.String())
			}
			for _, w := range c.Want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("stderr %q does not mention %q", lines[0], w)
				}
			}
			for _, s := range secrets {
				if strings.Contains(lines[0], s) {
					t.Errorf("stderr %q shows the secret %q", lines[0], s)
				}
			}
		})
	}
}

// Do sends a request to a running binary: body as JSON when not empty, the
// bearer token when not empty, and headers as name, value pairs. It returns
// the status, the headers and the whole body, failing t when the request
// cannot be sent.
func Do(t testing.TB, method, url, token, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	return DoWith(t, http.DefaultClient, method, url, token, body, headers...)
}

// DoWith is Do through client (one that checks each exchange against the
// API's document, say).
func DoWith(t testing.TB, client *http.Client, method, url, token, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, raw
}

// DoJSON is Do for a JSON answer, decoded (nil for an empty body); an
// answer that is not JSON fails t.
func DoJSON(t testing.TB, method, url, token, body string, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	return DoJSONWith(t, http.DefaultClient, method, url, token, body, headers...)
}

// DoJSONWith is DoJSON through client.
func DoJSONWith(t testing.TB, client *http.Client, method, url, token, body string, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	status, h, raw := DoWith(t, client, method, url, token, body, headers...)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON", method, url, raw)
		}
	}
	return status, h, m
}

// AMQPVhost returns the URL of a virtual host of its own on the RabbitMQ
// broker of SHOP_TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/),
// deleted with everything in it when the test ends, and a function that
// closes every connection to it, as a broker restart would. Outside CI a
// missing broker skips the test; with CI=true it fails it.
func AMQPVhost(t *testing.T) (amqpURL string, closeConnections func()) {
	t.Helper()
	base := os.Getenv("SHOP_TEST_AMQP_URL")
	if base == "" {
		base = "amqp://guest:guest@127.0.0.1:5672/"
	}
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("SHOP_TEST_AMQP_URL: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", u.Host, 3*time.Second); err != nil {
		fail("RabbitMQ at %s is unreachable; start rabbitmq-server or set SHOP_TEST_AMQP_URL: %v", u.Host, err)
	} else {
		conn.Close()
	}
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		fail("rabbitmqctl is not on PATH; this test makes a virtual host with it")
	}
	ctl := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("rabbitmqctl", args...).CombinedOutput(); err != nil {
			t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
		}
	}
	vhost := "kitshop-test-" + strings.ToLower(shop.NewID())
	user := "guest"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	ctl("add_vhost", vhost)
	t.Cleanup(func() { ctl("delete_vhost", vhost) })
	ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
	u.Path = "/" + vhost
	return u.String(), func() {
		ctl("close_all_connections", "--vhost", vhost, "--limit", "1000", "test: the broker went away")
	}
}
