package discovery_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"

	"github.com/kitshop/shop/discovery"
)

func TestParseStaticInstancer(t *testing.T) {
	good := map[string][]string{
		"127.0.0.1:5002":                            {"http://127.0.0.1:5002"},
		" b:5002 , a:5002 ":                         {"http://a:5002", "http://b:5002"},
		"http://a:5002/,https://b.internal/catalog": {"http://a:5002", "https://b.internal/catalog"},
		"[::1]:5002":                                {"http://[::1]:5002"},
	}
	for list, want := range good {
		s, err := discovery.ParseStaticInstancer(list)
		if err != nil {
			t.Errorf("ParseStaticInstancer(%q): %v", list, err)
			continue
		}
		if got := s.Instances(); !slices.Equal(got, want) {
			t.Errorf("ParseStaticInstancer(%q) = %q; want %q", list, got, want)
		}
	}
	bad := map[string]string{
		"":                     "empty",
		"  ":                   "empty",
		"a:5002,,b:5002":       "empty item",
		"a:5002,":              "empty item",
		"ftp://a:21":           `"ftp://a:21"`,
		"a:5002,http://a:5002": "twice",
		"http://":              `"http://"`,
	}
	for list, want := range bad {
		_, err := discovery.ParseStaticInstancer(list)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseStaticInstancer(%q) = %v; want an error saying %s", list, err, want)
		}
	}
	if _, err := discovery.NewStaticInstancer(); err == nil {
		t.Error("NewStaticInstancer() with no instances: no error")
	}
}

// Two endpointers over one static instancer each get the instances, and each
// its own slice (sd.NewEndpointer sorts what it is sent: with a shared slice
// the race detector fails this test).
func TestStaticInstancerFeedsEndpointers(t *testing.T) {
	s, err := discovery.NewStaticInstancer("c:1", "b:1", "a:1", "d:1", "f:1", "e:1", "h:1", "g:1",
		"i:1", "j:1", "k:1", "l:1", "m:1", "n:1", "o:1", "p:1")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				mu   sync.Mutex
				seen []string
			)
			factory := func(instance string) (endpoint.Endpoint, io.Closer, error) {
				mu.Lock()
				seen = append(seen, instance)
				mu.Unlock()
				return func(context.Context, any) (any, error) { return instance, nil }, nil, nil
			}
			e := sd.NewEndpointer(s, factory, log.NewNopLogger())
			defer e.Close()
			// The endpointer takes the first event on a goroutine of its own.
			eps, err := waitEndpoints(e, 16)
			if err != nil || len(eps) != 16 {
				t.Errorf("Endpoints() = %d endpoints, %v; want 16", len(eps), err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 16 || !slices.Contains(seen, "http://a:1") {
				t.Errorf("factory saw %q; want the 16 instances as base URLs", seen)
			}
		}()
	}
	wg.Wait()

	ch := make(chan sd.Event, 1)
	s.Register(ch)
	ev := <-ch
	ev.Instances[0] = "changed by a receiver"
	if got := s.Instances()[0]; got != "http://a:1" {
		t.Errorf("a receiver changed the instancer's list: first instance %q", got)
	}
}

// waitEndpoints polls e for up to five seconds until it yields n endpoints,
// and returns what it yields last.
func waitEndpoints(e sd.Endpointer, n int) ([]endpoint.Endpoint, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		eps, err := e.Endpoints()
		if len(eps) == n || time.Now().After(deadline) {
			return eps, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
