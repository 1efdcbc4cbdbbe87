package loadtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Process is a binary a harness started, its output going to a log file.
type Process struct {
	// Cmd is the running command (Cmd.Process.Pid is its process ID).
	Cmd  *exec.Cmd
	done chan error
}

// Start starts bin with args, appending its stdout and stderr to logPath.
func Start(bin, logPath string, args ...string) (*Process, error) {
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
	p := &Process{Cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	return p, nil
}

// Stop asks the process to shut down (SIGTERM) and waits for it, at most
// 15 seconds before killing it. A nil Process is stopped already.
func (p *Process) Stop() error {
	if p == nil || p.Cmd.Process == nil {
		return nil
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() {
			return nil
		}
		return err
	case <-time.After(15 * time.Second):
		p.Cmd.Process.Kill()
		return errors.New("did not stop within 15s of SIGTERM")
	}
}

// WaitReady polls url every 2 ms until it answers 200, at most limit, and
// returns how long that took.
func WaitReady(url string, limit time.Duration) (time.Duration, error) {
	began := time.Now()
	client := &http.Client{Timeout: time.Second}
	for time.Since(began) < limit {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(began), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not ready within %s", url, limit)
}

// FreeAddr returns a loopback address no listener holds right now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
