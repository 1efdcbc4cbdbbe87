package app

import (
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogWriterBuffersInfoAndFlushesUrgentLines(t *testing.T) {
	var out lockedBuilder
	lw := newLogWriter(&out)
	lw.Write([]byte("level=info msg=one\n"))
	if got := out.String(); got != "" {
		t.Fatalf("an info line was written at once: %q", got)
	}
	lw.Write([]byte("level=error msg=two\n"))
	if got := out.String(); got != "level=info msg=one\nlevel=error msg=two\n" {
		t.Fatalf("an error line must flush everything before it at once, got %q", got)
	}
	lw.Write([]byte("msg=three\n"))
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(out.String(), "msg=three") {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not flushed within 2s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	lw.Write([]byte("msg=four\n"))
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "msg=four\n") {
		t.Fatalf("Close did not flush the last line: %q", out.String())
	}
	if err := lw.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}
