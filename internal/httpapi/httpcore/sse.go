package httpcore

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultHeartbeat is the interval of ": ping" comments that keep proxies and
// clients from timing out an idle stream.
const DefaultHeartbeat = 15 * time.Second

// WantsStream reports whether the client asked for SSE: ?stream=true (or 1) or
// Accept: text/event-stream.
func WantsStream(r *http.Request) bool {
	if v := r.URL.Query().Get("stream"); v != "" {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// ErrStreamClosed is returned by writes after Close.
var ErrStreamClosed = errors.New("httpapi: event stream closed")

// SSE writes a Server-Sent Events stream. Nothing is written until the first
// event, so an error found before it can still be a normal problem response. Each
// frame is flushed as written; writes are serialized (the heartbeat runs on its
// own goroutine). The first write error (the client went away) is kept and
// returned by every later write, so the caller can stop.
type SSE struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	heartbeat time.Duration

	mu      sync.Mutex
	started bool
	closed  bool
	err     error
	buf     []byte
	stop    chan struct{}
	stopped chan struct{}
}

// NewSSE returns a writer on w; heartbeat <= 0 means DefaultHeartbeat.
func NewSSE(w http.ResponseWriter, heartbeat time.Duration) *SSE {
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	return &SSE{w: w, rc: http.NewResponseController(w), heartbeat: heartbeat}
}

// Started reports whether the stream's header has been sent.
func (s *SSE) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// start sends the header and starts the heartbeat; s.mu is held.
func (s *SSE) start() {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	s.w.WriteHeader(http.StatusOK)
	s.started = true
	s.stop, s.stopped = make(chan struct{}), make(chan struct{})
	go s.beat()
}

func (s *SSE) beat() {
	defer close(s.stopped)
	t := time.NewTicker(s.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			if s.err == nil && !s.closed {
				s.write([]byte(": ping\n\n"))
			}
			s.mu.Unlock()
		}
	}
}

// write sends b and flushes; s.mu is held.
func (s *SSE) write(b []byte) error {
	if _, err := s.w.Write(b); err != nil {
		s.err = err
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
		return err
	}
	return nil
}

// Event writes one frame: "id: <id>\nevent: <typ>\ndata: <json of data>\n\n". data
// should carry its own "type" field so clients reading only data lines see it.
func (s *SSE) Event(id int, typ string, data any) error {
	payload, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return s.frame(func(b []byte) []byte {
		b = append(b, "id: "...)
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, "\nevent: "...)
		b = append(b, typ...)
		b = append(b, "\ndata: "...)
		return append(b, payload...) // compact JSON has no newlines
	})
}

// Data writes one frame of data only, "data: <json of data>\n\n", as OpenAI's
// streams are written.
func (s *SSE) Data(data any) error {
	payload, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return s.frame(func(b []byte) []byte { return append(append(b, "data: "...), payload...) })
}

// frame writes the frame fill appends (without its closing blank line), starting
// the stream at the first.
func (s *SSE) frame(fill func([]byte) []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return ErrStreamClosed
	}
	if !s.started {
		s.start()
	}
	b := append(fill(s.buf[:0]), "\n\n"...)
	s.buf = b
	return s.write(b)
}

// Close ends the stream with "data: [DONE]" (when it started) and stops the
// heartbeat. It is safe to call twice; it returns the stream's write error, if any.
func (s *SSE) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.err
	}
	s.closed = true
	if s.started && s.err == nil {
		s.write([]byte("data: [DONE]\n\n"))
	}
	err := s.err
	stop, stopped := s.stop, s.stopped
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	return err
}
