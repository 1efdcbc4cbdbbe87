package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kitshop/shop/examples/internal/loadtest"
)

// process is a started binary whose output goes to a log file.
type process struct {
	cmd  *exec.Cmd
	done chan error
}

func startProcess(bin, logPath string, args ...string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	return p, nil
}

// stop asks the process to shut down (SIGTERM) and waits for it.
func (p *process) stop() error {
	if p == nil || p.cmd.Process == nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() {
			return nil
		}
		return err
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		return errors.New("did not stop within 15s of SIGTERM")
	}
}

// waitFor polls url until it answers 200.
func waitFor(url string, limit time.Duration) error {
	began := time.Now()
	client := &http.Client{Timeout: time.Second}
	for time.Since(began) < limit {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s", url, limit)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// wrkRun drives req with wrk (two threads, conns connections) and reads its
// report into a loadtest.Result.
func wrkRun(req *http.Request, _ []byte, conns int, d time.Duration) loadtest.Result {
	res := loadtest.Result{URL: req.URL.String()}
	script, err := os.CreateTemp("", "kitshop-searchbench-*.lua")
	if err != nil {
		res.Errors, res.FirstFail = 1, err.Error()
		return res
	}
	defer os.Remove(script.Name())
	script.WriteString(`done = function(summary, latency, requests)
  io.write(string.format("KITSHOP %d %d %d %d %d %d\n", summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
`)
	script.Close()
	secs := max(1, int(d.Round(time.Second)/time.Second))
	out, err := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs), "-s", script.Name(), req.URL.String()).CombinedOutput()
	if err != nil {
		res.Errors, res.FirstFail = 1, fmt.Sprintf("wrk: %v: %s", err, out)
		return res
	}
	m := regexp.MustCompile(`KITSHOP (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		res.Errors, res.FirstFail = 1, "wrk printed no summary: "+strings.TrimSpace(string(out))
		return res
	}
	n := make([]int64, 6)
	for i := range n {
		n[i], _ = strconv.ParseInt(m[i+1], 10, 64)
	}
	res.Requests = int(n[0])
	res.Duration = time.Duration(n[1]) * time.Microsecond
	res.Errors = int(n[2])
	res.Non2xx = int(n[3])
	res.P50 = time.Duration(n[4]) * time.Microsecond
	res.P99 = time.Duration(n[5]) * time.Microsecond
	res.RPS = float64(res.Requests) / res.Duration.Seconds()
	if res.Non2xx > 0 {
		res.FirstFail = fmt.Sprintf("%d answers were not 2xx or 3xx", res.Non2xx)
	}
	return res
}
