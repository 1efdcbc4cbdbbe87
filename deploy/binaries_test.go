package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// testKey is the signing key the binaries run with here.
var testKey = strings.Repeat("t", 40)

// buildAll builds every binary of the binaries table into dir the way the
// Dockerfile does: its go build arguments, from the repository's root, with
// CGO_ENABLED=0. The shop, which holds nearly every package, goes first, so
// the others find their packages compiled.
func buildAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	b := goBuild(t, readDockerfile(t))
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	env := os.Environ()
	for k, v := range b.env {
		env = append(env, k+"="+v)
	}
	paths := map[string]string{}
	build := func(bin string) error {
		out := filepath.Join(dir, bin, filepath.Base(b.out))
		cmd := exec.Command(gobin, append([]string{"build"}, b.argsFor(bin, out)...)...)
		cmd.Dir = repoRoot
		cmd.Env = env
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, msg)
		}
		return nil
	}
	for bin := range binaries {
		paths[bin] = filepath.Join(dir, bin, filepath.Base(b.out))
	}
	if err := build("shop"); err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 2)
	)
	for bin := range binaries {
		if bin == "shop" {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := build(bin); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return paths
}

// Every binary, built as the image builds it, is static, starts in an
// empty directory with nothing but its settings in the environment (those
// of its Kubernetes manifest, with the addresses moved to loopback), gets
// ready, passes its own health check, and exits 0 on SIGTERM.
func TestBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds six binaries; skipped with -short")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops the binaries with SIGTERM")
	}
	paths := buildAll(t, t.TempDir())
	m := readManifests(t)
	manifestEnv := map[string][]corev1.EnvVar{}
	for _, d := range m.deployments {
		c := d.Spec.Template.Spec.Containers[0]
		manifestEnv[imageBinary(c.Image)] = c.Env
	}

	for _, bin := range slices.Sorted(maps.Keys(binaries)) {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			path := paths[bin]
			t.Run("static", func(t *testing.T) { checkStatic(t, path) })
			t.Run("knows its settings", func(t *testing.T) { checkKnownEnv(t, bin, path) })
			t.Run("runs", func(t *testing.T) {
				var upstream string
				if bin == "gateway" {
					// The gateway is ready once its upstreams answer: the
					// shop in one process serves all four.
					shop := start(t, paths["shop"], runEnv(t, nil, ""))
					shop.waitReady(t, "/readyz")
					defer shop.stop(t)
					upstream = shop.addr
				}
				p := start(t, path, runEnv(t, manifestEnv[bin], upstream))
				p.waitReady(t, "/readyz")
				if err := p.healthcheck(); err != nil {
					t.Errorf("healthcheck of a running %s: %v", bin, err)
				}
				p.stop(t)
				if err := p.healthcheck(); err == nil {
					t.Errorf("healthcheck of a stopped %s: exit 0, want 1", bin)
				}
			})
		})
	}
}

// checkStatic fails unless path is a statically linked ELF binary: no
// interpreter, no dynamic section, so it runs on an image without libc.
func checkStatic(t *testing.T, path string) {
	if runtime.GOOS != "linux" {
		t.Skip("the image's binaries are ELF; this one is built for " + runtime.GOOS)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: dynamically linked", p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Error("has a .dynamic section: dynamically linked")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("needs the libraries %q", libs)
	}
}

// usageFlag matches a flag's line in the output of -h.
var usageFlag = regexp.MustCompile(`(?m)^  -([a-z0-9][a-z0-9-]*)`)

// checkKnownEnv fails unless the binary's -h lists a flag for every
// environment variable the table says it knows.
func checkKnownEnv(t *testing.T, bin, path string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-h")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("%s -h exited %d, want 2:\n%s", bin, code, out.String())
	}
	known := map[string]bool{}
	for _, sm := range usageFlag.FindAllStringSubmatch(out.String(), -1) {
		known["SHOP_"+strings.ToUpper(strings.ReplaceAll(sm[1], "-", "_"))] = true
	}
	if len(known) == 0 {
		t.Fatalf("%s -h lists no flags:\n%s", bin, out.String())
	}
	for _, name := range binaries[bin].env {
		if !known[name] {
			t.Errorf("%s has no setting %s (its -h lists no such flag), but the table says it has", bin, name)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// runEnv is the whole environment of a binary run here: SHOP_ADDR on a free
// loopback port and SHOP_DATA_DIR in an empty directory (the image's ENV),
// then the settings of manifest with the signing key set to testKey, every
// peer's URL at upstream (or, when it is "", at a closed port), and the
// other values as the manifest has them.
func runEnv(t *testing.T, manifest []corev1.EnvVar, upstream string) []string {
	t.Helper()
	env := []string{"SHOP_ADDR=" + closedAddr(t), "SHOP_DATA_DIR=" + t.TempDir(), "SHOP_SECRET_KEY=" + testKey}
	for _, e := range manifest {
		switch {
		case e.Name == "SHOP_ADDR" || e.Name == "SHOP_DATA_DIR" || e.Name == "SHOP_SECRET_KEY":
		case e.ValueFrom != nil:
			// An optional Secret key (the first admin): not set here.
		case strings.HasSuffix(e.Name, "_URL"):
			if upstream == "" {
				env = append(env, e.Name+"="+closedAddr(t))
			} else {
				env = append(env, e.Name+"="+upstream)
			}
		default:
			env = append(env, e.Name+"="+e.Value)
		}
	}
	return env
}

// proc is a binary running in a directory of its own.
type proc struct {
	path   string
	addr   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start copies the binary at path into an empty directory and runs it there
// with exactly env (env's SHOP_ADDR is where it listens).
func start(t *testing.T, path string, env []string) *proc {
	t.Helper()
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copied := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(copied, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &proc{path: copied, stderr: &syncBuffer{}, done: make(chan struct{})}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SHOP_ADDR="); ok {
			p.addr = v
		}
	}
	p.cmd = exec.Command(copied)
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitReady waits until the binary answers 200 on path, failing the test if
// it exits first or takes more than a minute.
func (p *proc) waitReady(t *testing.T, path string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(time.Minute)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("exited with %v before %s answered 200; output:\n%s", p.cmd.ProcessState, path, p.stderr.String())
		default:
		}
		resp, err := client.Get("http://" + p.addr + path)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within a minute (last: %s); output:\n%s", path, last, p.stderr.String())
}

// healthcheck runs "BIN healthcheck" as the image's HEALTHCHECK does, with
// only SHOP_ADDR in its environment, and returns its failure.
func (p *proc) healthcheck() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.path, "healthcheck")
	cmd.Dir = filepath.Dir(p.path)
	cmd.Env = []string{"SHOP_ADDR=" + p.addr}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// stop sends SIGTERM and expects the binary to drain and exit 0 within 30
// seconds.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("still running 30s after SIGTERM; output:\n%s", p.stderr.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0; output:\n%s", code, p.stderr.String())
	}
}
