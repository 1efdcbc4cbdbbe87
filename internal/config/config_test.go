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
	clearShopEnv(t)
	return s
}

// clearShopEnv empties every SHOP_ variable of the environment for the test
// (an empty variable counts as unset), except the SHOP_TEST_ ones Parse
// ignores anyway.
func clearShopEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SHOP_") && !strings.HasPrefix(name, config.TestEnvPrefix) {
			t.Setenv(name, "")
		}
	}
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
			clearShopEnv(t)
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

func TestParseRejectsUnknownEnvironmentSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    []string // every one must appear in the error
		notWant []string
	}{
		{"typo", map[string]string{"SHOP_ORDER_TTLL": "30m"}, []string{"SHOP_ORDER_TTLL", "environment", "did you mean SHOP_ORDER_TTL", "-order-ttl"}, nil},
		{"missing underscore", map[string]string{"SHOP_DATADIR": "/tmp"}, []string{"SHOP_DATADIR", "SHOP_DATA_DIR"}, nil},
		{"nothing close", map[string]string{"SHOP_BOGUS": "1"}, []string{"SHOP_BOGUS"}, []string{"did you mean"}},
		{"several", map[string]string{"SHOP_BOGUS": "1", "SHOP_ADR": ":1"}, []string{"SHOP_ADR", "SHOP_ADDR", "SHOP_BOGUS"}, nil},
		{"secret value stays out", map[string]string{"SHOP_SECRET_KE": "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"}, []string{"SHOP_SECRET_KE", "SHOP_SECRET_KEY"}, []string{"s3cr3t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSettings(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := config.Parse(s.fs, nil, writeEnvFile(t, ""))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q mentions %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
		})
	}
}

func TestParseIgnoresTestAndOtherEnvironmentVariables(t *testing.T) {
	s := newSettings(t)
	t.Setenv("SHOP_TEST_NATS_URL", "nats://127.0.0.1:4222") // reserved for tests and CI
	t.Setenv("SHOP_TEST_", "x")
	t.Setenv("SHOPPING", "yes")      // not the prefix
	t.Setenv("shop_addr", ":1111")   // not the upper-case prefix
	t.Setenv("SHOP_FORMERLY", "")    // empty counts as unset
	t.Setenv("SHOP_ORDER_TTL", "2m") // known
	env := writeEnvFile(t, "SHOP_TEST_DATABASE=file::memory:\nSHOP_ADDR=:7000\n")
	if err := config.Parse(s.fs, nil, env); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.addr != ":7000" || s.orderTTL != 2*time.Minute {
		t.Errorf("addr %q, order-ttl %v; want :7000, 2m", s.addr, s.orderTTL)
	}
}

func TestParseSuggestsTheSettingForAnUnknownDotEnvLine(t *testing.T) {
	s := newSettings(t)
	err := config.Parse(s.fs, nil, writeEnvFile(t, "SHOP_ADDR=:7000\nSHOP_ORDER_TTLL=5m\n"))
	if err == nil || !strings.Contains(err.Error(), "SHOP_ORDER_TTLL") || !strings.Contains(err.Error(), "did you mean SHOP_ORDER_TTL") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Parse = %v, want an error naming SHOP_ORDER_TTLL on line 2 and suggesting SHOP_ORDER_TTL", err)
	}
}

func TestParseHelpStillWorksWithAnUnknownEnvironmentSetting(t *testing.T) {
	s := newSettings(t)
	t.Setenv("SHOP_BOGUS", "1")
	var out bytes.Buffer
	s.fs.SetOutput(&out)
	if err := config.Parse(s.fs, []string{"-h"}, ""); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(-h) = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-order-ttl") {
		t.Errorf("-h printed %q, want the usage", out.String())
	}
}

// A malformed flag is reported once, by the error: the flag package does
// not also print it with the whole usage, so a binary's start-up error stays
// one line.
func TestParseFlagErrorPrintsNothing(t *testing.T) {
	s := newSettings(t)
	var out bytes.Buffer
	s.fs.SetOutput(&out)
	for _, args := range [][]string{{"-order-ttl", "soon"}, {"-bogus"}} {
		if err := config.Parse(s.fs, args, ""); err == nil {
			t.Fatalf("Parse(%v) succeeded", args)
		}
	}
	if out.Len() > 0 {
		t.Errorf("flag errors printed %q", out.String())
	}
}

func TestSecretKeyDataDirErrorsNameTheSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, dataDir := range map[string]string{
		"data dir is a file":        file,
		"data dir inside of a file": filepath.Join(file, "data"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.SecretKey(&config.Secret{}, dataDir)
			if err == nil || !strings.Contains(err.Error(), "data-dir (SHOP_DATA_DIR)") {
				t.Fatalf("SecretKey = %v, want an error naming data-dir (SHOP_DATA_DIR)", err)
			}
		})
	}
	t.Run("short kept key", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, config.SecretKeyFile), []byte("abc123\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := config.SecretKey(&config.Secret{}, dir)
		if err == nil || !strings.Contains(err.Error(), "SHOP_DATA_DIR") || !strings.Contains(err.Error(), "SHOP_SECRET_KEY") {
			t.Fatalf("SecretKey = %v, want an error naming the data dir and the key setting", err)
		}
	})
}
