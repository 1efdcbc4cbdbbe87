package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop/user"
)

// buildUsersvc builds the usersvc binary into a temporary directory.
func buildUsersvc(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "usersvc")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// addCustomer registers a customer in the user database of dataDir.
func addCustomer(t *testing.T, dataDir, email, password string) {
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

// TestStartupErrorsExitWithOneLine runs the built binary with start-up
// mistakes: each must exit 1 with one line on stderr naming the problem,
// without a stack dump and without the password.
func TestStartupErrorsExitWithOneLine(t *testing.T) {
	bin := buildUsersvc(t)
	const key = "0123456789abcdef0123456789abcdef-key"
	secrets := []string{"short12", "admin-password-1", "customer-password", key}

	taken := t.TempDir()
	addCustomer(t, taken, "ada@example.com", "customer-password")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	badDB := t.TempDir()
	if err := os.Mkdir(filepath.Join(badDB, "user.db"), 0o700); err != nil { // a directory, not a database
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		args   []string
		env    []string
		want   []string // each must appear in the line
		asRoot bool     // false: skipped as root, who may write anywhere
	}{
		{"short admin password", []string{"-admin-email", "admin@example.com", "-admin-password", "short12"}, nil,
			[]string{"admin-password", "SHOP_ADMIN_PASSWORD", "8 characters"}, true},
		{"invalid admin email", []string{"-admin-email", "not-an-email"}, []string{"SHOP_ADMIN_PASSWORD=admin-password-1"},
			[]string{"admin-email", "SHOP_ADMIN_EMAIL", "plain address"}, true},
		{"admin email of a customer", []string{"-data-dir", taken, "-admin-email", "ada@example.com", "-admin-password", "admin-password-1"}, nil,
			[]string{"admin-email", "SHOP_ADMIN_EMAIL", "ada@example.com", "customer"}, true},
		{"data dir is a file", []string{"-data-dir", file}, nil, []string{"data-dir", "SHOP_DATA_DIR"}, true},
		{"data dir is a file, key given", []string{"-data-dir", file, "-secret-key", key}, nil, []string{"data-dir", "SHOP_DATA_DIR"}, true},
		{"database cannot be opened", []string{"-data-dir", badDB}, nil, []string{"data-dir", "SHOP_DATA_DIR", "user.db"}, true},
		{"unwritable data dir", []string{"-data-dir", readOnly}, nil, []string{"data-dir", "SHOP_DATA_DIR"}, false},
		{"unwritable data dir, key given", []string{"-data-dir", readOnly, "-secret-key", key}, nil, []string{"data-dir", "SHOP_DATA_DIR"}, false},
		{"malformed flag", []string{"-token-ttl", "soon"}, nil, []string{"token-ttl", "duration"}, true},
		{"unknown environment setting", nil, []string{"SHOP_TOKEN_TTLL=1h"}, []string{"SHOP_TOKEN_TTLL", "SHOP_TOKEN_TTL"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.asRoot && os.Geteuid() == 0 {
				t.Skip("root may write to any directory")
			}
			args := append([]string{"-addr", "127.0.0.1:0", "-data-dir", t.TempDir(), "-bcrypt-cost", "4"}, c.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Dir = t.TempDir() // no .env
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "SHOP_") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, c.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("the service started; stderr:\n%s", stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("exit code %d (%v), want 1", code, err)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %q, want nothing", stdout.String())
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "usersvc: ") {
				t.Fatalf("stderr has %d lines, want one starting with \"usersvc: \":\n%s", len(lines), stderr.String())
			}
			for _, w := range c.want {
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
