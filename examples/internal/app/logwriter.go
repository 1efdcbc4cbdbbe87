package app

import (
	"bufio"
	"bytes"
	"io"
	"sync"
	"time"
)

// logWriter buffers log lines and writes them out every FlushEvery, when
// the buffer fills, and at once for warnings and errors, so a busy service
// does not pay a write system call per request line. Close flushes what is
// left.
type logWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// flushEvery bounds how long an info line waits in the buffer.
const flushEvery = 100 * time.Millisecond

func newLogWriter(w io.Writer) *logWriter {
	lw := &logWriter{buf: bufio.NewWriterSize(w, 32<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go lw.flusher()
	return lw
}

var urgent = [][]byte{[]byte("level=error"), []byte("level=warn")}

// Write takes one log line.
func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	n, err := lw.buf.Write(p)
	if err == nil && (bytes.Contains(p, urgent[0]) || bytes.Contains(p, urgent[1])) {
		err = lw.buf.Flush()
	}
	return n, err
}

func (lw *logWriter) flusher() {
	defer close(lw.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			lw.flush()
		case <-lw.stop:
			lw.flush()
			return
		}
	}
}

func (lw *logWriter) flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.buf.Flush()
}

// Close stops the flusher and writes out what is buffered.
func (lw *logWriter) Close() error {
	select {
	case <-lw.stop:
	default:
		close(lw.stop)
	}
	<-lw.done
	return lw.flush()
}
