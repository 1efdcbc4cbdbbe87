package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop/examples/internal/binarytest"
	"github.com/kitshop/shop/examples/internal/story"
	"github.com/kitshop/shop/examples/internal/story/storytest"
)

var admin = []string{"-admin-email", storytest.AdminEmail, "-admin-password", storytest.AdminPassword}

// loadgen runs the command with args and returns its exit status and
// output.
func loadgen(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = run(args, &out, &errs, false, make(chan os.Signal))
	return code, out.String(), errs.String()
}

func TestFlagMistakesExit2(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "admin"},
		{append([]string{"-cancel-share", "0.8", "-expire-share", "0.5"}, admin...), "add up to more than 1"},
		{append([]string{"-base", "127.0.0.1:8080"}, admin...), "not an http://"},
		{append([]string{"-customers", "x"}, admin...), "invalid value"},
		{append(admin, "extra"), "unexpected arguments"},
	} {
		code, stdout, stderr := loadgen(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("loadgen %q = %d, stdout %q, stderr %q; want 2 and %q", c.args, code, stdout, stderr, c.want)
		}
	}
}

func TestUnreachableShopExits1(t *testing.T) {
	base := "http://" + binarytest.FreeAddr(t)
	code, _, stderr := loadgen(append([]string{"-base", base, "-duration", "1s"}, admin...)...)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "loadgen: setup: admin login at "+base) {
		t.Fatalf("loadgen = %d, stderr %q; want 1 and one line naming the admin login", code, stderr)
	}
}

func TestAgainstTheMonolith(t *testing.T) {
	base := storytest.StartShop(t)

	t.Run("text for a duration", func(t *testing.T) {
		code, stdout, stderr := loadgen(append([]string{"-base", base, "-customers", "3", "-duration", "2s", "-event-wait", "3s"}, admin...)...)
		if code != 0 || stderr != "" {
			t.Fatalf("loadgen = %d, stderr %q\n%s", code, stderr, stdout)
		}
		for _, want := range append([]string{"3 customers for 2s against " + base, "consistency check: PASS"}, story.Steps...) {
			if !strings.Contains(stdout, want) {
				t.Errorf("the report does not say %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout, "\r") {
			t.Errorf("a progress line redrawn in place though stdout is no terminal:\n%q", stdout)
		}
	})

	t.Run("JSON for a count of orders", func(t *testing.T) {
		code, stdout, stderr := loadgen(append([]string{"-base", base, "-customers", "3", "-orders", "40", "-json", "-event-wait", "3s"}, admin...)...)
		if code != 0 || stderr != "" {
			t.Fatalf("loadgen = %d, stderr %q\n%s", code, stderr, stdout)
		}
		var rep story.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("stdout is not one JSON report: %v\n%s", err, stdout)
		}
		if rep.Orders.Placements != 40 || !rep.Check.Passed() || len(rep.Steps) != len(story.Steps) {
			t.Fatalf("report: %d placements, check passed %v, %d steps; want 40, true, %d\n%s",
				rep.Orders.Placements, rep.Check.Passed(), len(rep.Steps), len(story.Steps), stdout)
		}
	})

	t.Run("Ctrl-C ends the load and still checks", func(t *testing.T) {
		sig := make(chan os.Signal, 1)
		var out, errs bytes.Buffer
		done := make(chan int, 1)
		go func() {
			done <- run(append([]string{"-base", base, "-customers", "2", "-duration", "1h", "-event-wait", "3s"}, admin...), &out, &errs, false, sig)
		}()
		time.Sleep(time.Second)
		sig <- os.Interrupt
		select {
		case code := <-done:
			if code != 0 || !strings.Contains(errs.String(), "ending the load; the check still runs") || !strings.Contains(out.String(), "consistency check: PASS") {
				t.Fatalf("loadgen = %d, stderr %q\n%s", code, errs.String(), out.String())
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("loadgen did not end within 2 minutes of SIGINT")
		}
	})

	t.Run("a shop that lies about its stock", func(t *testing.T) {
		// A proxy in front of the shop shows one unit more on hand than
		// there is.
		target, _ := url.Parse(base)
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.ModifyResponse = func(resp *http.Response) error {
			if resp.Request.Method != http.MethodGet || !strings.HasPrefix(resp.Request.URL.Path, "/inventory/") || resp.StatusCode != 200 {
				return nil
			}
			var st map[string]any
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &st); err != nil {
				return err
			}
			st["on_hand"] = st["on_hand"].(float64) + 1
			st["available"] = st["available"].(float64) + 1
			raw, _ = json.Marshal(st)
			resp.Body = io.NopCloser(bytes.NewReader(raw))
			resp.ContentLength = int64(len(raw))
			resp.Header.Set("Content-Length", strconv.Itoa(len(raw)))
			return nil
		}
		liar := httptest.NewServer(proxy)
		defer liar.Close()
		code, stdout, stderr := loadgen(append([]string{"-base", liar.URL, "-customers", "2", "-duration", "1s", "-event-wait", "1s"}, admin...)...)
		if code != 1 || !strings.Contains(stderr, "loadgen: the consistency check failed") {
			t.Fatalf("loadgen = %d, stderr %q; want 1 and the check failed\n%s", code, stderr, stdout)
		}
		t.Logf("the report:\n%s", stdout)
		if !strings.Contains(stdout, "consistency check: FAIL") || !strings.Contains(stdout, "VIOLATION stock: LG-") {
			t.Errorf("the report does not show the stock violation:\n%s", stdout)
		}
	})
}
