// Package consultest gives tests a real Consul agent: the shared one CI
// starts (Addr), or a development agent of the test's own that it may kill
// and start again (StartAgent). Neither is a mock.
//
// Outside CI, a test whose agent is unavailable is skipped with a message
// saying what to do; with CI=true it fails. .ci/run builds Consul with
// scripts/consul.sh, starts the shared agent and exports both variables
// below.
//
//   - SHOP_TEST_CONSUL_ADDR: the shared agent's HTTP address (default
//     127.0.0.1:8500).
//   - SHOP_TEST_CONSUL_BIN: the consul binary StartAgent runs (default: the
//     one scripts/consul.sh caches, ${XDG_CACHE_HOME:-$HOME/.cache}/kitshop/consul-1.14.11).
package consultest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultAddr is the shared agent's address when SHOP_TEST_CONSUL_ADDR is
// unset.
const DefaultAddr = "127.0.0.1:8500"

// Version is the Consul release the repository tests against: the last one
// under MPL-2.0.
const Version = "1.14.11"

// unavailable skips t, or fails it when CI=true.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (skipped outside CI; CI=true makes this a failure)", args...)
}

// Addr returns the shared agent's address (SHOP_TEST_CONSUL_ADDR, default
// DefaultAddr) once it answers with an elected leader. An agent that
// answers is given up to five seconds to elect one; one that does not
// answer at all is unavailable at once.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("SHOP_TEST_CONSUL_ADDR")
	if addr == "" {
		addr = DefaultAddr
	}
	err := leader(addr)
	var netErr net.Error
	if err != nil && !errors.As(err, &netErr) {
		err = WaitLeader(addr, 5*time.Second)
	}
	if err != nil {
		unavailable(t, "Consul at %s is unavailable (%v); start one with `$(scripts/consul.sh) agent -dev -client 127.0.0.1 -bind 127.0.0.1`, or set SHOP_TEST_CONSUL_ADDR", addr, err)
	}
	return addr
}

// WaitLeader waits up to timeout for the agent at addr (host:port) to
// answer GET /v1/status/leader with a leader, and returns the last problem
// if it does not.
func WaitLeader(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := leader(addr)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leader asks the agent at addr once whether it has a leader.
func leader(addr string) error {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + addr + "/v1/status/leader")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("leader status: %s", resp.Status)
	}
	if strings.Trim(strings.TrimSpace(string(body)), `"`) == "" {
		return errors.New("no leader elected yet")
	}
	return nil
}

// Binary returns the path of the consul binary: SHOP_TEST_CONSUL_BIN, or
// the one scripts/consul.sh caches. A missing binary skips t (fails it with
// CI=true); it is never built here, since a cold build takes minutes.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("SHOP_TEST_CONSUL_BIN")
	if bin == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				unavailable(t, "no consul binary: SHOP_TEST_CONSUL_BIN is unset and there is no home directory: %v", err)
			}
			cache = filepath.Join(home, ".cache")
		}
		bin = filepath.Join(cache, "kitshop", "consul-"+Version)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(out), "Consul v"+Version) {
		unavailable(t, "no Consul %s binary at %s (%v); run scripts/consul.sh, or set SHOP_TEST_CONSUL_BIN", Version, bin, err)
	}
	return bin
}

// Agent is a Consul development agent of one test's own, on free ports of
// 127.0.0.1 and with its data directory in t.TempDir(). Kill ends it as a
// crash would; Start brings it back on the same ports with the same data
// directory, so the local agent's service registrations survive (the
// catalog itself lives in memory and starts over, with lower indexes).
type Agent struct {
	t    testing.TB
	bin  string
	args []string
	addr string
	logs string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartAgent starts an agent for t, waits until it has elected itself
// leader, and kills it when t ends.
func StartAgent(t testing.TB) *Agent {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	ports := freePorts(t, 4)
	a := &Agent{
		t:    t,
		bin:  bin,
		addr: "127.0.0.1:" + strconv.Itoa(ports[0]),
		logs: filepath.Join(dir, "agent.log"),
		args: []string{"agent", "-dev", "-client", "127.0.0.1", "-bind", "127.0.0.1",
			"-node", "consultest-" + strconv.Itoa(ports[0]),
			"-data-dir", filepath.Join(dir, "data"),
			"-http-port", strconv.Itoa(ports[0]),
			"-server-port", strconv.Itoa(ports[1]),
			"-serf-lan-port", strconv.Itoa(ports[2]),
			"-serf-wan-port", strconv.Itoa(ports[3]),
			"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1", "-https-port", "-1",
		},
	}
	t.Cleanup(a.Kill)
	a.Start()
	return a
}

// Addr returns the agent's HTTP address, host:port.
func (a *Agent) Addr() string { return a.addr }

// Start starts the agent (again, after Kill) and waits up to 30 seconds
// for it to elect itself leader, failing the test if it does not.
func (a *Agent) Start() {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil {
		a.t.Fatalf("consultest: agent on %s is already running", a.addr)
	}
	logs, err := os.OpenFile(a.logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		a.t.Fatal(err)
	}
	cmd := exec.Command(a.bin, a.args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	err = cmd.Start()
	logs.Close()
	if err != nil {
		a.t.Fatalf("consultest: starting %s: %v", a.bin, err)
	}
	a.cmd = cmd
	if err := WaitLeader(a.addr, 30*time.Second); err != nil {
		a.t.Fatalf("consultest: agent on %s has no leader: %v\n%s", a.addr, err, a.tail())
	}
}

// Kill ends the agent at once (SIGKILL) and waits for it to exit. Killing
// an agent that is not running does nothing.
func (a *Agent) Kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Kill()
	_ = a.cmd.Wait()
	a.cmd = nil
}

// tail returns the end of the agent's log.
func (a *Agent) tail() string {
	b, _ := os.ReadFile(a.logs)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// freePorts returns n distinct ports of 127.0.0.1 that are free for TCP
// and UDP (Serf uses both) at the time of asking.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	lc := net.ListenConfig{}
	for tries := 0; len(ports) < n && tries < 100; tries++ {
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := lc.ListenPacket(context.Background(), "udp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		held = append(held, u)
		ports = append(ports, port)
	}
	if len(ports) < n {
		t.Fatalf("consultest: found only %d free ports", len(ports))
	}
	return ports
}
