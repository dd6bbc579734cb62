package executor_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/workflow"
)

// tokenSignal tells the test once the run has streamed a few tokens; a standard
// run has its chunks too (its sink just discards them).
type tokenSignal struct {
	mu     sync.Mutex
	tokens int
	after  int
	ready  chan struct{}
	chunks []wire.Chunk
}

func (s *tokenSignal) Send(c wire.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunks = append(s.chunks, c)
	if c.Type == wire.ChunkToken {
		if s.tokens++; s.tokens == s.after {
			close(s.ready)
		}
	}
	return nil
}

func (s *tokenSignal) types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.chunks {
		out = append(out, c.Type)
	}
	return out
}

// A second client cancels a run the first is waiting on (POST .../cancel writes
// the request on the record): the run notices within its poll, stops the model
// call mid-stream, keeps the partial reply incomplete and ends cancelled naming
// who asked, in both modes.
func TestExecute_CancelFromASecondClientStopsTheModelAndKeepsThePartialReply(t *testing.T) {
	for _, mode := range []executor.Mode{executor.ModeStandard, executor.ModeStreaming} {
		t.Run(string(mode), func(t *testing.T) {
			h := newHarness(t, func(o *executor.Options) {
				o.Providers = []llm.Provider{devllm.New(devllm.Options{Delay: 20 * time.Millisecond})}
				o.CancelPoll = 100 * time.Millisecond
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			msg := strings.Repeat("word ", 500) // 500 deltas at 20 ms: 10 s if nobody cancels
			req := inline(chatDef(), msg)
			req.Mode, req.ExecutionID = mode, "exec-cancel-"+string(mode)
			sink := &tokenSignal{after: 5, ready: make(chan struct{})}
			type out struct {
				res *executor.Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				res, err := h.x.Execute(ctx, req, sink)
				done <- out{res, err}
			}()
			select {
			case <-sink.ready:
			case <-ctx.Done():
				t.Fatal("the run streamed no tokens")
			}
			// The second client: the cancel route's update.
			if _, err := h.store.UpdateExecution(ctx, userA, req.ExecutionID, func(e *store.Execution) error {
				return store.RequestCancel(e, userA)
			}); err != nil {
				t.Fatalf("requesting the cancel: %v", err)
			}
			var o out
			select {
			case o = <-done:
			case <-ctx.Done():
				t.Fatal("the cancelled run did not end")
			}
			ce, ok := errAs[*executor.CancelledError](o.err)
			if !ok || ce.Code != errcode.Cancelled || ce.By != userA {
				t.Fatalf("err = %v; want a CancelledError by %s", o.err, userA)
			}
			res := o.res
			if res == nil || res.Status != store.ExecCancelled || res.Response == "" || len(res.Response) >= len(msg) {
				t.Fatalf("result %+v; want cancelled with a partial reply", res)
			}
			msgs := h.messages(t, userA, res.ConversationID)
			if len(msgs) != 2 || msgs[1].Status != store.StatusIncomplete || msgs[1].Content != res.Response {
				t.Fatalf("stored messages %+v; want the partial reply marked incomplete", msgs)
			}
			e := h.execution(t, userA, req.ExecutionID)
			if e.Status != store.ExecCancelled || e.ErrorCode != errcode.Cancelled || e.CancelledBy != userA || !e.CancelRequested {
				t.Fatalf("execution %+v; want cancelled by %s", e, userA)
			}
			var ended []events.Event
			for _, ev := range h.eventsOf(req.ExecutionID) {
				if ev.Terminal() {
					ended = append(ended, ev)
				}
			}
			if len(ended) != 1 || ended[0].Type != events.ExecutionCancelled {
				t.Fatalf("terminal events %+v; want one execution_cancelled", ended)
			}
			if d, _ := ended[0].EndData(); d.CancelledBy != userA {
				t.Fatalf("execution_cancelled data %+v; want cancelled_by %s", ended[0].Data, userA)
			}
			if ts := sink.types(); ts[len(ts)-2] != wire.ChunkError || ts[len(ts)-1] != wire.ChunkDone {
				t.Fatalf("the run's chunks end %v; want error then done", ts[max(0, len(ts)-4):])
			}
		})
	}
}

// Cancelled between supersteps: a run waiting in a delay node ends cancelled
// before its llm node is ever visited — no model call is paid for.
func TestExecute_CancelBetweenSuperstepsCallsNoModel(t *testing.T) {
	rec := &recorder{Provider: devllm.New(devllm.Options{})}
	h := newHarness(t, func(o *executor.Options) {
		o.Providers = []llm.Provider{rec}
		o.CancelPoll = 50 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := def([]workflow.Node{node("start", "start", ""), node("wait", "delay", `{"type":"fixed","duration_ms":20000}`),
		node("llm", "llm", "")}, edge("start", "wait"), edge("wait", "llm"), edge("llm", "END"))
	req := inline(d, "hello")
	req.ExecutionID = "exec-cancel-delay"
	go func() {
		for ctx.Err() == nil {
			if _, err := h.store.UpdateExecution(ctx, userA, req.ExecutionID, func(e *store.Execution) error {
				return store.RequestCancel(e, userA)
			}); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // until the run has stored its record
		}
	}()
	res, err := h.x.Execute(ctx, req, nil)
	if ce, ok := errAs[*executor.CancelledError](err); !ok || ce.By != userA {
		t.Fatalf("err = %v; want a CancelledError by %s", err, userA)
	}
	if res.Status != store.ExecCancelled || len(visits(res, "llm")) != 0 || len(rec.requests()) != 0 {
		t.Fatalf("status %s, llm visits %d, model calls %d; want cancelled before the llm node", res.Status,
			len(visits(res, "llm")), len(rec.requests()))
	}
}
