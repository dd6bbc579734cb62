package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// countingFrames counts the frame log's writes.
type countingFrames struct {
	store.FrameLog
	mu     sync.Mutex
	writes int
	frames int
}

func (c *countingFrames) AppendFrames(ctx context.Context, userID, convID, execID string, fs []store.Frame) error {
	c.mu.Lock()
	c.writes++
	c.frames += len(fs)
	c.mu.Unlock()
	return c.FrameLog.AppendFrames(ctx, userID, convID, execID, fs)
}

// goneAfter is a client that goes away after n token frames: its sink fails and
// the request's context is cancelled, as an HTTP server does.
type goneAfter struct {
	n, tokens int
	cancel    context.CancelFunc
	got       []wire.Chunk
}

func (g *goneAfter) Send(c wire.Chunk) error {
	if g.tokens >= g.n {
		g.cancel()
		return errors.New("client went away")
	}
	g.got = append(g.got, c)
	if c.Type == wire.ChunkToken {
		g.tokens++
	}
	return nil
}

func TestExecute_OnDisconnectContinueRunsToTheEndAndKeepsEveryFrameInBatches(t *testing.T) {
	frames := &countingFrames{}
	h := newHarness(t, func(o *executor.Options) {
		o.Frames = frames
		o.Providers = []llm.Provider{devllm.New(devllm.Options{Delay: time.Millisecond})}
	})
	frames.FrameLog = h.store // the frames live beside the conversation
	deadline, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	ctx, cancel := context.WithCancel(deadline)
	defer cancel()
	req := inline(chatDef(), strings.Repeat("word ", 100))
	req.Mode, req.OnDisconnect, req.ExecutionID = executor.ModeStreaming, wire.OnDisconnectContinue, "exec-continue"
	sink := &goneAfter{n: 5, cancel: cancel}
	res, err := h.x.Execute(ctx, req, sink)
	if err != nil || res.Status != store.ExecCompleted {
		t.Fatalf("Execute: %v, status %v; want completed although the client went away", err, res)
	}
	e := h.execution(t, userA, req.ExecutionID)
	if !e.KeepsFrames || e.Status != store.ExecCompleted {
		t.Fatalf("record: keeps_frames %t status %s", e.KeepsFrames, e.Status)
	}
	if msgs := h.messages(t, userA, res.ConversationID); len(msgs) != 2 || msgs[1].Status != store.StatusComplete {
		t.Fatalf("stored %d messages (%+v), want the user message and the complete reply", len(msgs), msgs)
	}
	kept, err := h.store.Frames(deadline, userA, res.ConversationID, req.ExecutionID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for i, f := range kept {
		if f.Seq != i+1 {
			t.Fatalf("frame %d has seq %d: frames are not kept in order without gaps", i, f.Seq)
		}
		var c wire.Chunk
		if err := json.Unmarshal(f.Data, &c); err != nil || c.Type != f.Type {
			t.Fatalf("frame %d: %v, type %q vs %q", f.Seq, err, c.Type, f.Type)
		}
		if i < len(sink.got) {
			want, _ := json.Marshal(sink.got[i])
			if string(want) != string(f.Data) {
				t.Fatalf("frame %d differs from what the client got:\n%s\n%s", f.Seq, f.Data, want)
			}
		}
		if c.Type == wire.ChunkToken {
			text.WriteString(c.Content)
		}
	}
	if len(kept) == 0 || kept[len(kept)-1].Type != wire.ChunkDone {
		t.Fatalf("the last kept frame is not done: %d frames", len(kept))
	}
	if text.String() != res.Response {
		t.Fatalf("kept tokens %q, reply %q", text.String(), res.Response)
	}
	frames.mu.Lock()
	defer frames.mu.Unlock()
	if frames.frames != len(kept) || frames.writes > len(kept)/executor.FrameBatch+len(kept)/4+1 || frames.writes >= len(kept)/2 {
		t.Fatalf("%d frames in %d writes: not coalesced", frames.frames, frames.writes)
	}
}

func TestExecute_CancelOnDisconnectAndStandardRunsKeepNoFrames(t *testing.T) {
	frames := &countingFrames{FrameLog: store.NewMemory()}
	h := newHarness(t, func(o *executor.Options) { o.Frames = frames })
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()

	req := inline(chatDef(), strings.Repeat("word ", 50))
	req.Mode = executor.ModeStreaming
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := h.x.Execute(cctx, req, &goneAfter{n: 3, cancel: cancel})
	if ce, ok := errAs[*executor.CancelledError](err); !ok || ce.Code != errcode.Disconnected {
		t.Fatalf("default on_disconnect: %v, want cancelled disconnected", err)
	}
	req = inline(chatDef(), "hello")
	if _, err := h.x.Execute(ctx, req, executor.Discard); err != nil {
		t.Fatal(err)
	}
	if frames.writes != 0 {
		t.Fatalf("%d frame writes for runs that keep none", frames.writes)
	}

	for _, tt := range []struct {
		name string
		mode executor.Mode
		on   string
	}{{"continue on a standard run", executor.ModeStandard, wire.OnDisconnectContinue}, {"unknown value", executor.ModeStreaming, "pause"}} {
		req := inline(chatDef(), "hello")
		req.Mode, req.OnDisconnect = tt.mode, tt.on
		_, err := h.x.Execute(ctx, req, executor.Discard)
		if pe, ok := errAs[*executor.PreparationError](err); !ok || pe.Field != "on_disconnect" || pe.Code != errcode.InvalidInput {
			t.Fatalf("%s: %v, want invalid_input naming on_disconnect", tt.name, err)
		}
	}
}

// readCounting counts the reads Follow makes.
type readCounting struct {
	*store.Memory
	reads atomic.Int32
}

func (s *readCounting) GetExecution(ctx context.Context, userID, id string) (*store.Execution, error) {
	s.reads.Add(1)
	return s.Memory.GetExecution(ctx, userID, id)
}

func (s *readCounting) Frames(ctx context.Context, userID, convID, execID string, after, limit int) ([]store.Frame, error) {
	s.reads.Add(1)
	return s.Memory.Frames(ctx, userID, convID, execID, after, limit)
}

// Follow replays after a seq, then follows the live run to its done frame with at
// most one read per FollowPoll; it never starts a run.
func TestFollow_ReplaysThenFollowsTheLiveRunAtOneReadAPoll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := &readCounting{Memory: store.NewMemory()}
	const poll = 50 * time.Millisecond
	calls := atomic.Int32{}
	p := &recorder{Provider: devllm.New(devllm.Options{Delay: 10 * time.Millisecond}), onStream: func(*llm.Request) { calls.Add(1) }}
	x, err := executor.New(executor.Options{Store: st, Frames: st, Emitter: executor.DiscardEvents, Providers: []llm.Provider{p},
		FollowPoll: poll, CancelPoll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req := inline(chatDef(), strings.Repeat("word ", 60)) // 60 deltas at 10 ms
	req.Mode, req.OnDisconnect, req.ExecutionID = executor.ModeStreaming, wire.OnDisconnectContinue, "exec-follow"
	sink := &tokenSignal{after: 3, ready: make(chan struct{})}
	done := make(chan *executor.Result, 1)
	go func() {
		res, _ := x.Execute(ctx, req, sink)
		done <- res
	}()
	select {
	case <-sink.ready:
	case <-ctx.Done():
		t.Fatal("no tokens")
	}
	time.Sleep(300 * time.Millisecond) // a batch or more is kept
	st.reads.Store(0)
	started := time.Now()
	var seqs []int
	err = x.Follow(ctx, userA, req.ExecutionID, 2, func(f store.Frame) error {
		seqs = append(seqs, f.Seq)
		return nil
	})
	took := time.Since(started)
	if err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res == nil || res.Status != store.ExecCompleted || calls.Load() != 1 {
		t.Fatalf("run %+v, %d model calls", res, calls.Load())
	}
	for i, s := range seqs {
		if s != 3+i {
			t.Fatalf("followed seqs %v: not every frame after 2 in order", seqs)
		}
	}
	if len(seqs) == 0 || seqs[len(seqs)-1] != len(sink.chunks) {
		t.Fatalf("followed up to %v, the run sent %d frames", seqs[len(seqs)-1:], len(sink.chunks))
	}
	if n, max := int(st.reads.Load()), int(took/poll)+2; n > max {
		t.Fatalf("%d reads in %s: more than one per %s", n, took, poll)
	}
	// Finished: a replay only, one read of the record and one of the frames.
	st.reads.Store(0)
	n := 0
	if err := x.Follow(ctx, userA, req.ExecutionID, 0, func(store.Frame) error { n++; return nil }); err != nil || n != len(sink.chunks) {
		t.Fatalf("replay: %d frames, %v; want %d", n, err, len(sink.chunks))
	}
	if r := st.reads.Load(); r != 2 {
		t.Fatalf("replay of a finished run made %d reads, want 2", r)
	}
	if err := x.Follow(ctx, userB, req.ExecutionID, 0, func(store.Frame) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user's: %v, want not_found", err)
	}
	if err := st.DeleteConversation(ctx, userA, res.ConversationID); err != nil {
		t.Fatal(err)
	}
	if err := x.Follow(ctx, userA, req.ExecutionID, 0, func(store.Frame) error { return nil }); store.CodeOf(err) != errcode.ConversationDeleted {
		t.Fatalf("after the conversation's delete: %v, want conversation_deleted", err)
	}
	plain := inline(chatDef(), "hi")
	plain.ExecutionID = "exec-plain"
	if _, err := x.Execute(ctx, plain, nil); err != nil {
		t.Fatal(err)
	}
	if err := x.Follow(ctx, userA, plain.ExecutionID, 0, func(store.Frame) error { return nil }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a run that kept no frames: %v, want conflict", err)
	}
}
