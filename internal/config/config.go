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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
)

// EnvPrefix is the prefix of every environment variable the shop reads: the
// flag -data-dir is SHOP_DATA_DIR.
const EnvPrefix = "SHOP"

// TestEnvPrefix starts the names reserved for tests and CI, such as
// SHOP_TEST_NATS_URL for an integration test. Parse never reads them and
// never counts them as unknown settings, in the environment or in the .env
// file, so no flag should be named test-something.
const TestEnvPrefix = EnvPrefix + "_TEST_"

// Parse fills fs from args, then from SHOP_* environment variables, then from
// the file envFile in .env format (skipped when it does not exist), an earlier
// source winning over a later one. Lines of the .env file without the SHOP_
// prefix belong to other programs and are ignored. A malformed value, or an
// unknown SHOP_ setting in the environment or the .env file, is an error
// naming the setting (and the closest known one, if any is close); an empty
// environment variable counts as unset, and SHOP_TEST_ names are exempt (see
// TestEnvPrefix).
//
// With a ContinueOnError flag set, a bad flag is reported only by the
// returned error, not also printed with the usage to fs.Output(); -h prints
// the usage there and returns flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, envFile string) error {
	known := envNames(fs)
	quiet := fs.ErrorHandling() == flag.ContinueOnError
	usage, out := fs.Usage, fs.Output()
	if quiet {
		fs.Usage = func() {}
		fs.SetOutput(io.Discard)
	}
	err := ff.Parse(fs, args,
		ff.WithEnvVarPrefix(EnvPrefix),
		ff.WithConfigFile(envFile),
		ff.WithConfigFileParser(shopLines(known)),
		ff.WithAllowMissingConfigFile(true),
	)
	if quiet {
		fs.Usage = usage
		fs.SetOutput(out)
	}
	if errors.Is(err, flag.ErrHelp) {
		if quiet {
			printUsage(fs)
		}
		return err
	}
	if err == nil {
		err = unknownInEnv(os.Environ(), known)
	}
	if err != nil {
		return fmt.Errorf("configuration: %w", explain(fs, unwrapFF(err)))
	}
	return nil
}

// printUsage prints fs's usage the way the flag package does for -h.
func printUsage(fs *flag.FlagSet) {
	if fs.Usage != nil {
		fs.Usage()
		return
	}
	if fs.Name() == "" {
		fmt.Fprintf(fs.Output(), "Usage:\n")
	} else {
		fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
	}
	fs.PrintDefaults()
}

// envName is the environment variable of the flag called name, the way ff
// maps it: -data-dir is SHOP_DATA_DIR.
func envName(name string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(name))
}

// envNames maps the environment variable of every flag of fs to the flag's
// name.
func envNames(fs *flag.FlagSet) map[string]string {
	known := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = f.Name })
	return known
}

// unknownInEnv reports the non-empty SHOP_ variables of environ that are no
// setting of known (and not reserved for tests), all in one line.
func unknownInEnv(environ []string, known map[string]string) error {
	var unknown []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix+"_") || strings.HasPrefix(name, TestEnvPrefix) || value == "" {
			continue
		}
		if _, ok := known[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	switch len(unknown) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("unknown setting %s in the environment%s", unknown[0], didYouMean(unknown[0], known))
	}
	for i, name := range unknown {
		unknown[i] += didYouMean(name, known)
	}
	return fmt.Errorf("unknown settings in the environment: %s", strings.Join(unknown, ", "))
}

// didYouMean names the known setting closest to the unknown name, if one is
// only a typo or two away: " (did you mean SHOP_ORDER_TTL, flag -order-ttl?)".
func didYouMean(name string, known map[string]string) string {
	unknown := strings.TrimPrefix(name, EnvPrefix+"_")
	best, bestDist := "", -1
	for _, env := range slices.Sorted(maps.Keys(known)) {
		candidate := strings.TrimPrefix(env, EnvPrefix+"_")
		d := editDistance(unknown, candidate)
		if d <= max(2, len(candidate)/3) && d < len(candidate) && (bestDist < 0 || d < bestDist) {
			best, bestDist = env, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s, flag -%s?)", best, known[best])
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// shopLines returns the parser of a .env file, passing on only the SHOP_
// settings. Other lines, and the SHOP_TEST_ ones, are skipped before
// parsing, so that their syntax (an empty value, a multi-line quoted value)
// is never this program's business. A SHOP_ name that is no setting of known
// is an error. A malformed SHOP_ line is reported by its setting name only,
// as its value may be a secret.
func shopLines(known map[string]string) func(r io.Reader, set func(name, value string) error) error {
	return func(r io.Reader, set func(name, value string) error) error {
		s := bufio.NewScanner(r)
		for n := 1; s.Scan(); n++ {
			line := strings.TrimSpace(s.Text())
			if !strings.HasPrefix(line, EnvPrefix+"_") || strings.HasPrefix(line, TestEnvPrefix) {
				continue
			}
			var setErr error
			err := ff.EnvParser(strings.NewReader(line), func(name, value string) error {
				if _, ok := known[name]; !ok {
					setErr = fmt.Errorf(".env line %d: unknown setting %s%s", n, name, didYouMean(name, known))
					return setErr
				}
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
		env := envName(f.Name)
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

// DataDirError names the data-dir setting (-data-dir, SHOP_DATA_DIR) in err,
// an error from using the data directory, such as opening a database in it.
func DataDirError(err error) error {
	return fmt.Errorf("data-dir (%s_DATA_DIR): %w", EnvPrefix, err)
}

// SecretKey returns the token signing key: the configured one if set, else
// the one kept in dataDir, generated (32 random bytes, hex-encoded, file mode
// 0600) on first use so tokens stay valid across restarts. An error using
// the data directory names the data-dir setting.
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
			return nil, fmt.Errorf("configuration: %s in data-dir (%s_DATA_DIR) holds a key shorter than 32 characters; delete it to generate a new one, or set secret-key (%s_SECRET_KEY)", SecretKeyFile, EnvPrefix, EnvPrefix)
		}
		return []byte(key), nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, DataDirError(fmt.Errorf("read %s: %w", SecretKeyFile, err))
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, DataDirError(err)
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
		return nil, DataDirError(fmt.Errorf("create %s: %w", SecretKeyFile, err))
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return nil, DataDirError(fmt.Errorf("write %s: %w", SecretKeyFile, err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, DataDirError(fmt.Errorf("write %s: %w", SecretKeyFile, err))
	}
	if err := f.Close(); err != nil {
		return nil, DataDirError(fmt.Errorf("write %s: %w", SecretKeyFile, err))
	}
	err = os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
		return SecretKey(configured, dataDir)
	}
	if err != nil {
		return nil, DataDirError(fmt.Errorf("create %s: %w", SecretKeyFile, err))
	}
	return []byte(key), nil
}
