package executor

import (
	"sync"

	"github.com/chatterhq/chatter/internal/wire"
)

// Sink receives a run's chunks. Send is never called concurrently. An error from
// Send (the client went away) cancels the run.
type Sink interface {
	Send(c wire.Chunk) error
}

// Discard is the standard-mode sink: the Result carries everything.
var Discard Sink = discard{}

type discard struct{}

func (discard) Send(wire.Chunk) error { return nil }

// SinkFunc adapts a function to Sink.
type SinkFunc func(wire.Chunk) error

func (f SinkFunc) Send(c wire.Chunk) error { return f(c) }

// Collector keeps every chunk, for tests and tools.
type Collector struct {
	mu     sync.Mutex
	Chunks []wire.Chunk
}

func (c *Collector) Send(ch wire.Chunk) error {
	c.mu.Lock()
	c.Chunks = append(c.Chunks, ch)
	c.mu.Unlock()
	return nil
}

// Text concatenates the token chunks.
func (c *Collector) Text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s []byte
	for _, ch := range c.Chunks {
		if ch.Type == wire.ChunkToken {
			s = append(s, ch.Content...)
		}
	}
	return string(s)
}

// Types lists the chunk types in order.
func (c *Collector) Types() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.Chunks))
	for i, ch := range c.Chunks {
		out[i] = ch.Type
	}
	return out
}
