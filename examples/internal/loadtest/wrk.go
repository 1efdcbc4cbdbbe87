package loadtest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Wrk is Run with wrk (it must be installed: apt install wrk): it drives req with wrk (two threads, conns connections) and reads
// its report. Failures are reported like the built-in generator's.
func Wrk(req *http.Request, body []byte, conns int, d time.Duration) Result {
	res := Result{URL: req.URL.String()}
	script, err := os.CreateTemp("", "kitshop-wrk-*.lua")
	if err != nil {
		res.Errors, res.FirstFail = 1, err.Error()
		return res
	}
	defer os.Remove(script.Name())
	var lua strings.Builder
	fmt.Fprintf(&lua, "wrk.method = %q\n", req.Method)
	if len(body) > 0 {
		fmt.Fprintf(&lua, "wrk.body = %q\n", body)
	}
	for k, vs := range req.Header {
		fmt.Fprintf(&lua, "wrk.headers[%q] = %q\n", k, vs[0])
	}
	lua.WriteString(`done = function(summary, latency, requests)
  io.write(string.format("KITSHOP %d %d %d %d %d %d\n", summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
`)
	script.WriteString(lua.String())
	script.Close()
	secs := max(1, int(d.Round(time.Second)/time.Second))
	out, err := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs), "-s", script.Name(), req.URL.String()).CombinedOutput()
	if err != nil {
		res.Errors, res.FirstFail = 1, fmt.Sprintf("wrk: %v: %s", err, out)
		return res
	}
	m := regexp.MustCompile(`KITSHOP (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		res.Errors, res.FirstFail = 1, "wrk printed no summary: "+string(out)
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
