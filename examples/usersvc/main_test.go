package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop/examples/internal/services/usersvc"
	"github.com/kitshop/shop/internal/testkit"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/config"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

type instance struct {
	base string
	log  *testkit.SyncBuffer
	stop func() error
}

// start runs the service in process on a free port and waits until it
// listens.
func start(t *testing.T, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testkit.SyncBuffer{}
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- usersvc.Run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), logs, func(a net.Addr) { addrc <- a })
	}()
	var stopped bool
	var stopErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				t.Fatalf("the service did not stop; log:\n%s", logs)
			}
		}
		return stopErr
	}
	t.Cleanup(func() { stop() })
	select {
	case a := <-addrc:
		return &instance{base: "http://" + a.String(), log: logs, stop: stop}
	case err := <-done:
		t.Fatalf("the service did not start: %v\nlog:\n%s", err, logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("the service did not start in time; log:\n%s", logs)
	}
	return nil
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r response) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (in *instance) call(t *testing.T, method, path, token, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, in.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func (in *instance) expect(t *testing.T, method, path, token, body string, status int, code string) response {
	t.Helper()
	r := in.call(t, method, path, token, body)
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("%s %s: got %d %s, want %d %s", method, path, r.status, r.raw, status, code)
	}
	return r
}

func (in *instance) login(t *testing.T, email, password string) string {
	t.Helper()
	r := in.expect(t, "POST", "/login", "", `{"email":"`+email+`","password":"`+password+`"}`, 200, "")
	tok, _ := r.body["token"].(string)
	if tok == "" || r.body["token_type"] != "Bearer" {
		t.Fatalf("login response %s", r.raw)
	}
	return tok
}

// isolate runs the test in an empty working directory (no stray .env) and
// with no SHOP_ variables from the surrounding environment.
func isolate(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SHOP_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-1"
	adaPassword   = "correct horse"
)

func TestServiceEndToEnd(t *testing.T) {
	isolate(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	t.Setenv("SHOP_ADMIN_PASSWORD", adminPassword)
	args := []string{"-data-dir", dataDir, "-admin-email", adminEmail, "-bcrypt-cost", "4"}
	svc := start(t, args...)

	// Operations endpoints.
	r := svc.expect(t, "GET", "/healthz", "", "", 200, "")
	if r.header.Get(shophttp.RequestIDHeader) == "" {
		t.Error("no request ID in the response")
	}
	svc.expect(t, "GET", "/readyz", "", "", 200, "")

	// Sign-up.
	r = svc.expect(t, "POST", "/register", "", `{"email":"Ada@Example.com","password":"`+adaPassword+`","name":"Ada"}`, 201, "")
	adaID, _ := r.body["id"].(string)
	if adaID == "" || r.body["email"] != "ada@example.com" || r.body["role"] != "customer" {
		t.Fatalf("register: %s", r.raw)
	}
	if strings.Contains(r.raw, "password") || strings.Contains(r.raw, "$2a$") {
		t.Fatalf("register response shows the password or its hash: %s", r.raw)
	}
	svc.expect(t, "POST", "/register", "", `{"email":"ada@example.com","password":"another-pass","name":"Ada"}`, 409, "email_taken")
	svc.expect(t, "POST", "/register", "", `{"email":"bob@example.com",`, 400, "bad_json")
	svc.expect(t, "POST", "/register", "", `{"email":"bob@example.com","password":"correct horse","name":"Bob","role":"admin"}`, 400, "unknown_field")
	svc.expect(t, "POST", "/register", "", `{"name":"`+strings.Repeat("b", 70<<10)+`"}`, 413, "body_too_large")

	// Login.
	adaToken := svc.login(t, "ada@example.com", adaPassword)
	svc.expect(t, "POST", "/login", "", `{"email":"ada@example.com","password":"wrong password"}`, 401, "invalid_credentials")
	svc.expect(t, "POST", "/login", "", `{"email":"nobody@example.com","password":"wrong password"}`, 401, "invalid_credentials")

	// Tokens.
	r = svc.expect(t, "GET", "/users/me", adaToken, "", 200, "")
	if r.body["id"] != adaID {
		t.Fatalf("me: %s", r.raw)
	}
	svc.expect(t, "GET", "/users/"+adaID, adaToken, "", 200, "")
	tampered := adaToken[:len(adaToken)-3] + "abc"
	svc.expect(t, "GET", "/users/me", tampered, "", 401, "invalid_token")

	keyFile := filepath.Join(dataDir, config.SecretKeyFile)
	info, err := os.Stat(keyFile)
	if err != nil {
		t.Fatalf("no generated key: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", keyFile, info.Mode().Perm())
	}
	key, _ := os.ReadFile(keyFile)
	tokens, err := user.NewTokens(bytes.TrimSpace(key))
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := tokens.Issue(shop.Identity{UserID: adaID, Role: shop.RoleCustomer}, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	svc.expect(t, "GET", "/users/me", expired, "", 401, "token_expired")

	// Roles.
	svc.expect(t, "GET", "/users", adaToken, "", 403, "forbidden")
	svc.expect(t, "GET", "/users", "", "", 401, "missing_token")
	adminToken := svc.login(t, adminEmail, adminPassword)
	r = svc.expect(t, "GET", "/users", adminToken, "", 200, "")
	if items, _ := r.body["items"].([]any); len(items) != 2 {
		t.Fatalf("admin lists %s, want the admin and ada", r.raw)
	}
	svc.expect(t, "GET", "/users?limit=nope", adminToken, "", 400, "invalid_limit")
	svc.expect(t, "GET", "/users?cursor=nope", adminToken, "", 400, "invalid_cursor")

	r = svc.expect(t, "GET", "/metrics", "", "", 200, "")
	for _, want := range []string{`kitshop_user_requests_total{code="email_taken",method="Register"} 1`, "go_goroutines"} {
		if !strings.Contains(r.raw, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if err := svc.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	logs := svc.log.String()
	for _, secret := range []string{adaPassword, adminPassword, adaToken, adminToken, string(bytes.TrimSpace(key))} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log shows a secret %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{"msg=listening", "msg=\"admin account ready\"", "method=Register", "request_id=", "ts=", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}

	// Start again on the same data dir, now with another admin password:
	// accounts and tokens survive, and the admin's password is unchanged.
	t.Setenv("SHOP_ADMIN_PASSWORD", "a-new-password")
	again := start(t, args...)
	r = again.expect(t, "GET", "/users/me", adaToken, "", 200, "")
	if r.body["id"] != adaID {
		t.Fatalf("me after restart: %s", r.raw)
	}
	again.login(t, "ada@example.com", adaPassword)
	again.expect(t, "GET", "/users", adminToken, "", 200, "")
	again.login(t, adminEmail, adminPassword)
	again.expect(t, "POST", "/login", "", `{"email":"`+adminEmail+`","password":"a-new-password"}`, 401, "invalid_credentials")
	again.expect(t, "POST", "/register", "", `{"email":"ada@example.com","password":"another-pass","name":"Ada"}`, 409, "email_taken")
	if err := again.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestBadSettingsStopTheStart(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		dotenv string
		want   []string // each must appear in the error
	}{
		{"malformed flag", []string{"-token-ttl", "soon"}, nil, "", []string{"token-ttl"}},
		{"malformed env", nil, map[string]string{"SHOP_TOKEN_TTL": "soon"}, "", []string{"SHOP_TOKEN_TTL"}},
		{"malformed .env", nil, nil, "SHOP_BCRYPT_COST=many\n", []string{"SHOP_BCRYPT_COST"}},
		{"unknown flag", []string{"-colour", "blue"}, nil, "", []string{"colour"}},
		{"cost out of range", []string{"-bcrypt-cost", "3"}, nil, "", []string{"bcrypt-cost", "SHOP_BCRYPT_COST"}},
		{"negative ttl", []string{"-token-ttl", "-1h"}, nil, "", []string{"SHOP_TOKEN_TTL"}},
		{"admin email only", []string{"-admin-email", "admin@example.com"}, nil, "", []string{"SHOP_ADMIN_PASSWORD"}},
		{"admin password only", nil, map[string]string{"SHOP_ADMIN_PASSWORD": "admin-password-1"}, "", []string{"SHOP_ADMIN_EMAIL"}},
		{"bad admin email", []string{"-admin-email", "not-an-email"}, map[string]string{"SHOP_ADMIN_PASSWORD": "admin-password-1"}, "", []string{"SHOP_ADMIN_EMAIL", "email"}},
		{"short admin password", []string{"-admin-email", "admin@example.com"}, map[string]string{"SHOP_ADMIN_PASSWORD": "short12"}, "", []string{"SHOP_ADMIN_PASSWORD", "8 characters"}},
		{"short secret key", nil, map[string]string{"SHOP_SECRET_KEY": "too-short-a-key"}, "", []string{"SHOP_SECRET_KEY"}},
		{"stray argument", []string{"serve"}, nil, "", []string{"serve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("SHOP_ADDR", "127.0.0.1:0")
			t.Setenv("SHOP_DATA_DIR", t.TempDir())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.dotenv != "" {
				if err := os.WriteFile(".env", []byte(tt.dotenv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var logs testkit.SyncBuffer
			listened := false
			err := usersvc.Run(context.Background(), tt.args, &logs, func(net.Addr) { listened = true })
			if err == nil || listened {
				t.Fatalf("started (err %v, listened %v); log:\n%s", err, listened, logs.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, secret := range []string{"admin-password-1", "short12", "too-short-a-key"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("a secret shows in %q / %q", err, logs.String())
				}
			}
		})
	}
}

func TestConfiguredSecretKeyIsUsed(t *testing.T) {
	isolate(t)
	key := "a-configured-key-of-at-least-32-characters"
	t.Setenv("SHOP_SECRET_KEY", key)
	dataDir := t.TempDir()
	svc := start(t, "-data-dir", dataDir, "-bcrypt-cost", "4")
	if _, err := os.Stat(filepath.Join(dataDir, config.SecretKeyFile)); !os.IsNotExist(err) {
		t.Errorf("a key file was written although a key was configured (%v)", err)
	}
	tokens, _ := user.NewTokens([]byte(key))
	svc.expect(t, "POST", "/register", "", `{"email":"ada@example.com","password":"correct horse","name":"Ada"}`, 201, "")
	tok := svc.login(t, "ada@example.com", "correct horse")
	id, err := tokens.Verify(context.Background(), tok)
	if err != nil || id.Role != shop.RoleCustomer {
		t.Fatalf("token not signed with the configured key: %+v, %v", id, err)
	}
}
