package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// splitName names the row of POST /orders through the split shop's gateway
// (its "bare" column is the monolith).
const splitName = "POST /orders split"

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's CPU times.
const clockTicks = 100

// cpuTime reads the CPU time (user and system) process pid has used, from
// /proc; 0 where /proc is not available.
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it
	// start after its closing parenthesis: state is field 3, utime 14.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// parts returns the processes of a split shop started as pid: the
// supervisor as "supervisor", and each child (shop serve NAME) by NAME.
func parts(pid int) map[string]int {
	out := map[string]int{"supervisor": pid}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		raw, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(raw)) {
			child, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
			args := strings.Split(string(cmdline), "\x00")
			if len(args) > 2 && args[1] == "serve" {
				out[args[2]] = child
			}
		}
	}
	return out
}

// cpuShares is the CPU each process spent per request during a measurement.
type cpuShares map[string]time.Duration

// measureCPU returns a function that, called after the load, gives the CPU
// time per request of each process in procs over that time.
func measureCPU(procs map[string]int) func(requests float64) cpuShares {
	before := map[string]time.Duration{}
	for name, pid := range procs {
		before[name] = cpuTime(pid)
	}
	return func(requests float64) cpuShares {
		out := cpuShares{}
		for name, pid := range procs {
			if requests > 0 {
				out[name] = time.Duration(float64(cpuTime(pid)-before[name]) / requests)
			}
		}
		return out
	}
}

// String lists the shares, largest first, with their sum.
func (c cpuShares) String() string {
	names := make([]string, 0, len(c))
	var total time.Duration
	for n, d := range c {
		names = append(names, n)
		total += d
	}
	slices.SortFunc(names, func(a, b string) int { return int(c[b] - c[a]) })
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %s", n, c[n].Round(time.Microsecond)))
	}
	return fmt.Sprintf("%s per order (%s)", total.Round(time.Microsecond), strings.Join(parts, ", "))
}

// splitDebugAddrs are the profiler addresses the split shop's parts get
// from -debug-addr 127.0.0.1:first: user, catalog, order, inventory and
// gateway on first and the four ports after it.
func splitDebugAddrs(first int) map[string]string {
	out := map[string]string{}
	for i, name := range []string{"user", "catalog", "order", "inventory", "gateway"} {
		out[name] = "127.0.0.1:" + strconv.Itoa(first+i)
	}
	return out
}

// profileParts takes a CPU profile of every part at once for d, writes each
// to dir/NAME.pprof and prints the heaviest functions of each.
func profileParts(addrs map[string]string, d time.Duration, dir string) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(addrs))
	for name, addr := range addrs {
		wg.Go(func() {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds()))
			resp, err := http.Get(url)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(dir, name+".pprof"))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if _, err := io.Copy(f, resp.Body); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	names := make([]string, 0, len(addrs))
	for n := range addrs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount", "12", filepath.Join(dir, name+".pprof")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pprof %s: %v\n%s", name, err, out)
		}
		fmt.Printf("\n--- CPU profile of the %s part (%s) ---\n%s", name, filepath.Join(dir, name+".pprof"), out)
	}
	return nil
}
