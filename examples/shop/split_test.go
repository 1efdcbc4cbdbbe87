package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kitshop/shop/internal/testkit"
)

// childPIDs reads the supervisor's "started" lines, which its logger may
// hold back for a moment: each part's process ID.
func childPIDs(t *testing.T, logs *testkit.SyncBuffer) map[string]int {
	t.Helper()
	started := regexp.MustCompile(`msg=started service=(\w+) pid=(\d+)`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := map[string]int{}
		for _, m := range started.FindAllStringSubmatch(logs.String(), -1) {
			pid, _ := strconv.Atoi(m[2])
			pids[m[1]] = pid
		}
		if len(pids) == 5 {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor logged %d children, want 5: %v\n%s", len(pids), pids, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gone says whether no process pid exists any more (the supervisor reaps
// its children, so an exited child leaves no zombie either).
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// splitArgs are the flags of a split shop in dataDir.
func splitArgs(dataDir string) []string {
	return append([]string{"-addr", "127.0.0.1:0", "-data-dir", dataDir, "-admin-email", adminEmail,
		"-admin-password", adminPassword, "-bcrypt-cost", "4"}, topologies[1].args...)
}

func TestSplitStopsEveryChild(t *testing.T) {
	p := startShop(t, t.TempDir(), topologies[1].args...)
	pids := childPIDs(t, p.logs)
	for name, pid := range pids {
		if gone(pid) {
			t.Fatalf("the %s service (pid %d) is not running", name, pid)
		}
	}
	p.stop()
	for name, pid := range pids {
		if !gone(pid) {
			t.Errorf("the %s service (pid %d) still runs after the shop stopped", name, pid)
		}
	}
	logs := p.logs.String()
	for _, name := range []string{"user", "catalog", "inventory", "order", "gateway"} {
		if !strings.Contains(logs, "proc="+name+" ") || !regexp.MustCompile(`proc=`+name+` .*msg="shutting down"`).MatchString(logs) {
			t.Errorf("no shutdown line of the %s service in the log", name)
		}
	}
}

func TestSplitChildDeathStopsTheRest(t *testing.T) {
	isolate(t)
	logs := &testkit.SyncBuffer{}
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), splitArgs(t.TempDir()), logs, func(a net.Addr) { addr <- a })
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("the split shop did not start: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatal("the split shop did not start within 60s")
	}
	pids := childPIDs(t, logs)
	if err := syscall.Kill(pids["inventory"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "the inventory service stopped (signal: killed)") {
			t.Fatalf("run = %v, want it to name the inventory service and how it ended", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor did not stop within 30s of a child's death")
	}
	for name, pid := range pids {
		if !gone(pid) {
			t.Errorf("the %s service (pid %d) still runs", name, pid)
		}
	}
	if resp, err := http.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("the gateway still answers (%d) after the shop stopped", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), `msg="a part of the shop stopped; stopping the others" service=inventory exit="signal: killed"`) {
		t.Errorf("the log does not say which part stopped:\n%s", logs.String())
	}
}

func TestSplitStartupFailureNamesThePart(t *testing.T) {
	isolate(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	logs := &testkit.SyncBuffer{}
	args := append(splitArgs(t.TempDir()), "-addr", taken.Addr().String())
	err = run(context.Background(), args, logs, nil)
	if err == nil || !strings.Contains(err.Error(), "the gateway service exited while starting (exit status 1)") {
		t.Fatalf("run = %v, want the gateway named", err)
	}
	if !strings.Contains(logs.String(), "proc=gateway gateway: addr (SHOP_ADDR): listen tcp "+taken.Addr().String()) {
		t.Errorf("the gateway's own one-line error is not in the log:\n%s", logs.String())
	}
	for name, pid := range childPIDs(t, logs) {
		if !gone(pid) {
			t.Errorf("the %s service (pid %d) still runs", name, pid)
		}
	}
}

func TestPrefixLines(t *testing.T) {
	var mu sync.Mutex
	var out strings.Builder
	p := &prefixLines{mu: &mu, w: &out, prefix: []byte("proc=order "), jsonPrefix: []byte(`{"proc":"order",`)}
	p.Write([]byte("level=info msg=a\n{\"msg\":\"b\"}\npart"))
	p.Write([]byte("ial\nlast"))
	p.flush()
	want := "proc=order level=info msg=a\n{\"proc\":\"order\",\"msg\":\"b\"}\nproc=order partial\nproc=order last\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
