package config_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop/internal/config"
)

// settings is a typical binary's flag set.
type settings struct {
	fs        *flag.FlagSet
	addr      string
	dataDir   string
	orderTTL  time.Duration
	workers   int
	secretKey config.Secret
}

// newSettings returns a fresh flag set and clears the SHOP_ variables it
// reads, so the test does not depend on the environment it runs in.
func newSettings(t *testing.T) *settings {
	t.Helper()
	s := &settings{fs: flag.NewFlagSet("shop", flag.ContinueOnError)}
	s.fs.SetOutput(io.Discard)
	s.fs.StringVar(&s.addr, "addr", ":8080", "listen address")
	s.fs.StringVar(&s.dataDir, "data-dir", "data", "data directory")
	s.fs.DurationVar(&s.orderTTL, "order-ttl", 15*time.Minute, "unpaid order lifetime")
	s.fs.IntVar(&s.workers, "workers", 4, "workers")
	s.fs.Var(&s.secretKey, "secret-key", "token signing key")
	for _, name := range []string{"SHOP_ADDR", "SHOP_DATA_DIR", "SHOP_ORDER_TTL", "SHOP_WORKERS", "SHOP_SECRET_KEY"} {
		t.Setenv(name, "")
	}
	return s
}

func writeEnvFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParsePrecedence(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		dotenv  string
		want    string // addr
		wantTTL time.Duration
	}{
		{"defaults", nil, nil, "", ":8080", 15 * time.Minute},
		{".env only", nil, nil, "SHOP_ADDR=:7000\nSHOP_ORDER_TTL=5m\n", ":7000", 5 * time.Minute},
		{"env beats .env", nil, map[string]string{"SHOP_ADDR": ":6000"}, "SHOP_ADDR=:7000\n", ":6000", 15 * time.Minute},
		{"flag beats env and .env", []string{"-addr", ":5000"}, map[string]string{"SHOP_ADDR": ":6000"}, "SHOP_ADDR=:7000\n", ":5000", 15 * time.Minute},
		{"flag beats .env", []string{"-order-ttl=1m"}, nil, "SHOP_ORDER_TTL=5m\n", ":8080", time.Minute},
		{"sources mix per setting", []string{"-addr=:5000"}, map[string]string{"SHOP_ORDER_TTL": "2m"}, "SHOP_ADDR=:7000\nSHOP_ORDER_TTL=5m\nSHOP_WORKERS=9\n", ":5000", 2 * time.Minute},
		{"empty env does not hide .env", nil, map[string]string{"SHOP_ADDR": ""}, "SHOP_ADDR=:7000\n", ":7000", 15 * time.Minute},
		{"quoted .env value", nil, nil, `SHOP_ADDR="127.0.0.1:9000"` + "\n", "127.0.0.1:9000", 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSettings(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if err := config.Parse(s.fs, tt.args, writeEnvFile(t, tt.dotenv)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.addr != tt.want {
				t.Errorf("addr = %q, want %q", s.addr, tt.want)
			}
			if s.orderTTL != tt.wantTTL {
				t.Errorf("order-ttl = %v, want %v", s.orderTTL, tt.wantTTL)
			}
		})
	}
}

func TestParseDotEnvSetsEverySettingKind(t *testing.T) {
	s := newSettings(t)
	env := writeEnvFile(t, "SHOP_DATA_DIR=/var/lib/shop\nSHOP_WORKERS=12\nSHOP_SECRET_KEY=0123456789abcdef0123456789abcdef\n")
	if err := config.Parse(s.fs, nil, env); err != nil {
		t.Fatal(err)
	}
	if s.dataDir != "/var/lib/shop" || s.workers != 12 || s.secretKey.Value() != "0123456789abcdef0123456789abcdef" {
		t.Errorf("got data-dir %q, workers %d, secret %q", s.dataDir, s.workers, s.secretKey.Value())
	}
}

func TestParseIgnoresOtherProgramsLines(t *testing.T) {
	s := newSettings(t)
	env := writeEnvFile(t, strings.Join([]string{
		"# settings of the whole project",
		"",
		"DATABASE_URL=postgres://localhost/other",
		"PATH=/somewhere/else",
		"export EDITOR=vi",
		"EMPTY_FOR_LATER=",
		`CERT="-----BEGIN CERTIFICATE-----`,
		"MIIBszCCAVmgAwIBAgIUJ",
		`-----END CERTIFICATE-----"`,
		"shop_addr=:1111", // not the upper-case prefix
		"SHOPPING=yes",    // prefix without the underscore
		"  SHOP_ADDR = :7000  ",
	}, "\n"))
	if err := config.Parse(s.fs, nil, env); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.addr != ":7000" {
		t.Errorf("addr = %q, want :7000", s.addr)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		dotenv string
		want   []string // every one must appear in the error
	}{
		{"unknown SHOP_ setting in .env", nil, nil, "SHOP_ADDR=:7000\nSHOP_BOGUS=1\n", []string{"SHOP_BOGUS"}},
		{"malformed duration from env", nil, map[string]string{"SHOP_ORDER_TTL": "abc"}, "", []string{"SHOP_ORDER_TTL"}},
		{"malformed int from env", nil, map[string]string{"SHOP_WORKERS": "many"}, "", []string{"SHOP_WORKERS"}},
		{"malformed duration in .env", nil, nil, "SHOP_ORDER_TTL=abc\n", []string{"SHOP_ORDER_TTL"}},
		{"malformed flag", []string{"-order-ttl", "abc"}, nil, "", []string{"order-ttl"}},
		{"unknown flag", []string{"-bogus"}, nil, "", []string{"bogus"}},
		{"SHOP_ line without a value", nil, nil, "SHOP_ADDR=\n", []string{"SHOP_ADDR"}},
		{"SHOP_ line without =", nil, nil, "SHOP_ADDR :7000\n", []string{"SHOP_ADDR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSettings(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := config.Parse(s.fs, tt.args, writeEnvFile(t, tt.dotenv))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestParseErrorsKeepSecretsOut(t *testing.T) {
	const secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"
	for name, dotenv := range map[string]string{
		"colon instead of =": "SHOP_SECRET_KEY: " + secret + "\n",
		"space instead of =": "SHOP_SECRET_KEY " + secret + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := newSettings(t)
			err := config.Parse(s.fs, nil, writeEnvFile(t, dotenv))
			if err == nil {
				t.Fatal("Parse of a malformed line succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestParseMissingEnvFileIsFine(t *testing.T) {
	s := newSettings(t)
	t.Setenv("SHOP_ADDR", ":6000")
	if err := config.Parse(s.fs, nil, filepath.Join(t.TempDir(), "no-such.env")); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.addr != ":6000" {
		t.Errorf("addr = %q, want :6000", s.addr)
	}
}

func TestParseHelp(t *testing.T) {
	s := newSettings(t)
	err := config.Parse(s.fs, []string{"-h"}, "")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestSecretRedacted(t *testing.T) {
	var s config.Secret
	if got := s.String(); got != "" {
		t.Errorf("unset String() = %q, want empty", got)
	}
	var nilSecret *config.Secret
	if got := nilSecret.String(); got != "" {
		t.Errorf("nil String() = %q, want empty", got)
	}
	if got := nilSecret.Value(); got != "" {
		t.Errorf("nil Value() = %q, want empty", got)
	}
	if err := s.Set("hunter2-hunter2"); err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "[redacted]" {
		t.Errorf("String() = %q, want [redacted]", got)
	}
	if got := fmt.Sprint(&s); got != "[redacted]" {
		t.Errorf("fmt.Sprint = %q, want [redacted]", got)
	}
	if got := s.Value(); got != "hunter2-hunter2" {
		t.Errorf("Value() = %q", got)
	}

	// A flag dump shows the redaction, never the value.
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&s, "secret-key", "key")
	var out bytes.Buffer
	fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(&out, "%s=%s\n", f.Name, f.Value) })
	fs.SetOutput(&out)
	fs.PrintDefaults()
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("flag dump shows the secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "secret-key=[redacted]") {
		t.Errorf("flag dump lacks the redacted value:\n%s", out.String())
	}
}

func TestSecretKeyConfigured(t *testing.T) {
	dir := t.TempDir()
	var s config.Secret
	s.Set("0123456789abcdef0123456789abcdef")
	key, err := config.SecretKey(&s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("key = %q, want the configured one", key)
	}
	if _, err := os.Stat(filepath.Join(dir, config.SecretKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a configured key still wrote %s (stat: %v)", config.SecretKeyFile, err)
	}
}

func TestSecretKeyConfiguredTooShort(t *testing.T) {
	const short = "tooshort-but-secret"
	var s config.Secret
	s.Set(short)
	_, err := config.SecretKey(&s, t.TempDir())
	if err == nil {
		t.Fatal("SecretKey accepted a short key")
	}
	if strings.Contains(err.Error(), short) {
		t.Errorf("error %q contains the key", err)
	}
	if !strings.Contains(err.Error(), "SHOP_SECRET_KEY") {
		t.Errorf("error %q does not name the setting", err)
	}
}

func TestSecretKeyGeneratedAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet", "there")
	var unset config.Secret
	key, err := config.SecretKey(&unset, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 64 {
		t.Errorf("generated key has %d characters, want 64", len(key))
	}
	if _, err := hex.DecodeString(string(key)); err != nil {
		t.Errorf("generated key %q is not hex: %v", key, err)
	}

	path := filepath.Join(dir, config.SecretKeyFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %v, want 0600", mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != string(key) {
		t.Errorf("file holds %q, want the returned key", b)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != config.SecretKeyFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("data dir holds %v, want only %s", names, config.SecretKeyFile)
	}

	again, err := config.SecretKey(&unset, dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(key) {
		t.Errorf("second call = %q, want the kept key %q", again, key)
	}
	// Not configuring at all works the same as an unset secret.
	if nilKey, err := config.SecretKey(nil, dir); err != nil || string(nilKey) != string(key) {
		t.Errorf("SecretKey(nil) = %q, %v; want the kept key", nilKey, err)
	}

	other, err := config.SecretKey(&unset, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if string(other) == string(key) {
		t.Error("two data directories got the same generated key")
	}
}

func TestSecretKeyConcurrentFirstUse(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		const n = 8
		keys := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				k, err := config.SecretKey(&config.Secret{}, dir)
				keys[i], errs[i] = string(k), err
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("concurrent SecretKey: %v", errs[i])
			}
			if keys[i] != keys[0] {
				t.Fatalf("concurrent callers got different keys: %q and %q", keys[0], keys[i])
			}
		}
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
			t.Fatalf("data dir holds %d entries (%v), want only %s", len(entries), err, config.SecretKeyFile)
		}
	}
}

func TestSecretKeyFileTooShort(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.SecretKeyFile), []byte("abc123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.SecretKey(&config.Secret{}, dir)
	if err == nil {
		t.Fatal("SecretKey accepted a short kept key")
	}
	if strings.Contains(err.Error(), "abc123") {
		t.Errorf("error %q contains the key", err)
	}
}

func TestSecretKeyFileTrimmed(t *testing.T) {
	dir := t.TempDir()
	const kept = "0123456789abcdef0123456789abcdef0123"
	if err := os.WriteFile(filepath.Join(dir, config.SecretKeyFile), []byte("  "+kept+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := config.SecretKey(&config.Secret{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != kept {
		t.Errorf("key = %q, want %q", key, kept)
	}
}

func TestMalformedValuesSayWhatTheyWant(t *testing.T) {
	cases := []struct {
		env, value, want string
	}{
		{"SHOP_TTL", "soon", "want a duration"},
		{"SHOP_COUNT", "many", "want a whole number"},
		{"SHOP_VERBOSE", "perhaps", "want true or false"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fs.Duration("ttl", time.Minute, "")
			fs.Int("count", 1, "")
			fs.Bool("verbose", false, "")
			err := config.Parse(fs, nil, filepath.Join(t.TempDir(), "missing.env"))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.env) {
				t.Fatalf("Parse = %v, want an error naming %s that says %q", err, c.env, c.want)
			}
		})
	}
}
