// Package config reads every kitshop binary's settings from, in order of
// precedence, command-line flags, SHOP_* environment variables and a .env
// file, and keeps secrets out of logs and error messages.
package config

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
)

// EnvPrefix is the prefix of every environment variable the shop reads: the
// flag -data-dir is SHOP_DATA_DIR.
const EnvPrefix = "SHOP"

// Parse fills fs from args, then from SHOP_* environment variables, then from
// the file envFile in .env format (skipped when it does not exist), an earlier
// source winning over a later one. Lines of the .env file without the SHOP_
// prefix belong to other programs and are ignored; an unknown SHOP_ setting or
// a malformed value is an error naming the setting.
func Parse(fs *flag.FlagSet, args []string, envFile string) error {
	err := ff.Parse(fs, args,
		ff.WithEnvVarPrefix(EnvPrefix),
		ff.WithConfigFile(envFile),
		ff.WithConfigFileParser(shopLines),
		ff.WithAllowMissingConfigFile(true),
	)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("configuration: %w", explain(fs, unwrapFF(err)))
	}
	return nil
}

// shopLines parses a .env file, passing on only the SHOP_ settings. Other
// lines are skipped before parsing, so that their syntax (an empty value, a
// multi-line quoted value) is never this program's business. A malformed
// SHOP_ line is reported by its setting name only, as its value may be a
// secret.
func shopLines(r io.Reader, set func(name, value string) error) error {
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if !strings.HasPrefix(line, EnvPrefix+"_") {
			continue
		}
		var setErr error
		err := ff.EnvParser(strings.NewReader(line), func(name, value string) error {
			if setErr = set(name, value); setErr != nil {
				return fmt.Errorf(".env: %s: %w", name, unwrapFF(setErr))
			}
			return nil
		})
		if err != nil && setErr == nil {
			name, _, _ := strings.Cut(line, "=")
			if i := strings.IndexAny(name, " \t:"); i >= 0 {
				name = name[:i]
			}
			return fmt.Errorf(".env line %d: %s: want %s=value with a non-empty value", n, name, name)
		}
		if err != nil {
			return err
		}
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf(".env: %w", err)
	}
	return nil
}

// unwrapFF drops ff's generic "error parsing ..." prefixes, keeping the part
// that names the setting.
func unwrapFF(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil || !strings.Contains(u.Error(), "flag") && !strings.Contains(u.Error(), "SHOP_") {
			return err
		}
		err = u
	}
}

// explain replaces the flag package's bare "parse error" with what the
// setting wants ("want a duration such as 30s, 15m or 2h"). The value itself
// is not repeated beyond what the flag package already says.
func explain(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "parse error") {
		return err
	}
	want := ""
	fs.VisitAll(func(f *flag.Flag) {
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if want == "" && (strings.Contains(msg, `flag "`+f.Name+`"`) || strings.Contains(msg, "flag -"+f.Name+":") || strings.Contains(msg, `"`+env+`"`)) {
			want = wantOf(f.Value)
		}
	})
	if want == "" {
		return err
	}
	return errors.New(strings.Replace(msg, "parse error", "want "+want, 1))
}

// wantOf describes the values a flag accepts.
func wantOf(v flag.Value) string {
	g, ok := v.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration such as 30s, 15m or 2h"
	case bool:
		return "true or false"
	case int, int64, uint, uint64:
		return "a whole number"
	case float64:
		return "a number"
	}
	return ""
}

// Secret is a flag value for a secret: it prints as "[redacted]" once set, so
// a flag dump or an error message never shows it.
type Secret struct{ value string }

// Set stores the secret.
func (s *Secret) Set(v string) error { s.value = v; return nil }

// String hides the secret.
func (s *Secret) String() string {
	if s == nil || s.value == "" {
		return ""
	}
	return "[redacted]"
}

// Value returns the secret itself; pass it only to what needs it. A nil
// Secret is an unset one.
func (s *Secret) Value() string {
	if s == nil {
		return ""
	}
	return s.value
}

// SecretKeyFile is the file in the data directory that keeps the generated
// token signing key.
const SecretKeyFile = "secret.key"

// SecretKey returns the token signing key: the configured one if set, else
// the one kept in dataDir, generated (32 random bytes, hex-encoded, file mode
// 0600) on first use so tokens stay valid across restarts.
func SecretKey(configured *Secret, dataDir string) ([]byte, error) {
	if v := configured.Value(); v != "" {
		if len(v) < 32 {
			return nil, fmt.Errorf("configuration: secret-key (SHOP_SECRET_KEY) must be at least 32 characters, got %d", len(v))
		}
		return []byte(v), nil
	}
	path := filepath.Join(dataDir, SecretKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return nil, fmt.Errorf("configuration: %s holds a key shorter than 32 characters; delete it to generate a new one", SecretKeyFile)
		}
		return []byte(key), nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", SecretKeyFile, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	key := hex.EncodeToString(raw[:])
	// Write the key to a file of its own, then link it into place: the link
	// fails if another process got there first, and nobody ever reads a key
	// file that is still being written.
	f, err := os.CreateTemp(dataDir, SecretKeyFile+".*.tmp") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", SecretKeyFile, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", SecretKeyFile, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", SecretKeyFile, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", SecretKeyFile, err)
	}
	err = os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
		return SecretKey(configured, dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", SecretKeyFile, err)
	}
	return []byte(key), nil
}
