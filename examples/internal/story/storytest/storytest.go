// Package storytest starts the shop binary for the tests of the story and
// of the load generator, which run virtual customers against it.
package storytest

import (
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/kitshop/shop/examples/internal/binarytest"
	"github.com/kitshop/shop/internal/testkit"
)

// The admin account StartShop creates.
const (
	AdminEmail    = "admin@example.com"
	AdminPassword = "admin-password-1"
)

// StartShop builds the shop binary (examples/shop) and starts it on a free
// port in a fresh data dir, with the admin account above, a one-second
// order TTL, a cheap bcrypt cost and no sample products, followed by extra
// flags. It returns the shop's base URL once /readyz answers 200, and stops
// the shop with SIGINT when the test ends, showing its log if the test
// failed.
func StartShop(t *testing.T, extra ...string) string {
	t.Helper()
	bin := binarytest.Build(t, "github.com/kitshop/shop/examples/shop")
	addr := binarytest.FreeAddr(t)
	args := append([]string{"-addr", addr, "-data-dir", t.TempDir(), "-admin-email", AdminEmail, "-admin-password", AdminPassword,
		"-order-ttl", "1s", "-bcrypt-cost", "4", "-sample-data=false", "-quiet"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir() // no .env
	cmd.Env = binarytest.CleanEnv()
	logs := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("the shop did not stop within 30s of SIGINT")
		}
		if t.Failed() {
			t.Logf("the shop's log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the shop exited (%v) before it was ready:\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shop was not ready within 60s:\n%s", logs.String())
		}
	}
}
