package executor_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// foldSpy is devllm that records the summary requests it answers and, while fail
// is set, fails them as an unavailable provider would.
type foldSpy struct {
	llm.Provider
	fail     atomic.Bool
	mu       sync.Mutex
	folds    []foldCall
	lastChat llm.Request
}

type foldCall struct {
	previous string
	msgs     []llm.Message
	req      llm.Request
}

func newFoldSpy() *foldSpy { return &foldSpy{Provider: devllm.New(devllm.Options{})} }

func (p *foldSpy) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	if prev, msgs, ok := llm.SummaryParts(req); ok {
		p.mu.Lock()
		p.folds = append(p.folds, foldCall{previous: prev, msgs: msgs, req: *req})
		p.mu.Unlock()
		if p.fail.Load() {
			return llm.ErrStream(&llm.Error{Provider: p.Name(), Code: llm.CodeUnavailable, Message: "simulated outage"})
		}
		return p.Provider.Stream(ctx, req)
	}
	p.mu.Lock()
	p.lastChat = *req
	p.mu.Unlock()
	return p.Provider.Stream(ctx, req)
}

func (p *foldSpy) calls() []foldCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]foldCall(nil), p.folds...)
}

// rangeCounter counts the extra reads a fold makes.
type rangeCounter struct {
	*store.Memory
	n atomic.Int64
}

func (s *rangeCounter) MessageRange(ctx context.Context, user, conv string, from, to, limit int) ([]store.Message, error) {
	s.n.Add(1)
	return s.Memory.MessageRange(ctx, user, conv, from, to, limit)
}

// summaryHarness is an executor over the memory store (reads counted) and foldSpy.
type summaryHarness struct {
	x     *executor.Executor
	mem   *store.Memory
	reads *rangeCounter
	spy   *foldSpy
	rec   *events.Recorder
	log   *bytes.Buffer
}

func newSummaryHarness(t *testing.T) *summaryHarness {
	t.Helper()
	h := &summaryHarness{mem: store.NewMemory(), spy: newFoldSpy(), rec: &events.Recorder{}, log: &bytes.Buffer{}}
	h.reads = &rangeCounter{Memory: h.mem}
	x, err := executor.New(executor.Options{Store: h.reads, Emitter: h.rec, Providers: []llm.Provider{h.spy},
		Logger: slog.New(slog.NewJSONHandler(h.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.x = x
	return h
}

func (h *summaryHarness) run(t *testing.T, req executor.Request) *executor.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := h.x.Execute(ctx, req, nil)
	if err != nil || res.Status != store.ExecCompleted {
		t.Fatalf("Execute: %+v, %v; want completed", res, err)
	}
	return res
}

func (h *summaryHarness) conversation(t *testing.T, conv string) *store.Conversation {
	t.Helper()
	c, err := h.mem.GetConversation(context.Background(), userA, conv)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// usageOf sums the token_usage events of one execution by node id.
func (h *summaryHarness) usageOf(execID string) map[string]llm.Usage {
	out := map[string]llm.Usage{}
	for _, e := range h.rec.Events() {
		if d, ok := e.Data.(events.TokenUsageData); ok && e.ExecutionID == execID {
			out[d.NodeID] = out[d.NodeID].Add(llm.Usage{InputTokens: d.InputTokens, OutputTokens: d.OutputTokens})
		}
	}
	return out
}

func memoryDef(memConfig string) *workflow.Definition {
	return def([]workflow.Node{node("start", "start", ""), node("memory", "memory", memConfig),
		node("llm", "llm", `{"system_prompt":"Be brief."}`)}, edge("start", "memory"), edge("memory", "llm"), edge("llm", "END"))
}

// note is turn k's user message; its first word names it in devllm's summary.
func note(k int) string {
	return fmt.Sprintf("note-%02d please tell me more about item number %d", k, k)
}

func TestExecute_SummaryFoldsEachDroppedTurnOnceAndKeepsInputBounded(t *testing.T) {
	const window, turns = 6, 30
	six := window
	tests := []struct {
		name string
		req  func(msg, conv string) executor.Request
	}{
		{"memory node window 6", func(msg, conv string) executor.Request {
			r := inline(memoryDef(`{"window":6}`), msg)
			r.Input.ConversationID = conv
			return r
		}},
		{"dynamic run with memory_window 6", func(msg, conv string) executor.Request {
			r := dynamic(msg, true, false, false)
			r.Input.ConversationID, r.Input.Config.MemoryWindow = conv, six
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newSummaryHarness(t)
			conv, prevSummary := "", ""
			chatInput := map[int]int{} // turn -> the llm node's input tokens
			for k := 1; k <= turns; k++ {
				foldsBefore := len(h.spy.calls())
				res := h.run(t, tt.req(note(k), conv))
				conv = res.ConversationID
				c := h.conversation(t, conv)
				// Before turn k the history is 2(k-1) messages; the window keeps the last
				// 6, so messages 1..2k-8 have left it.
				through := max(0, 2*k-8)
				if c.SummarySeq != through {
					t.Fatalf("turn %d: summary through %d, want %d", k, c.SummarySeq, through)
				}
				if through == 0 {
					if c.Summary != "" || len(h.spy.calls()) != 0 {
						t.Fatalf("turn %d: summary %q before anything left the window", k, c.Summary)
					}
					continue
				}
				// Each message that left the window is in the summary exactly once, in
				// order; none of the window is.
				var want []string
				for seq := 1; seq <= through; seq++ {
					if seq%2 == 1 {
						want = append(want, fmt.Sprintf("user:note-%02d", (seq+1)/2))
					} else {
						want = append(want, "assistant:You")
					}
				}
				if c.Summary != strings.Join(want, "; ") {
					t.Fatalf("turn %d: summary %q, want %q", k, c.Summary, strings.Join(want, "; "))
				}
				// Incremental: this turn's one fold took the previous summary and only
				// the two messages that just left the window.
				calls := h.spy.calls()[foldsBefore:]
				if len(calls) != 1 || calls[0].previous != prevSummary || len(calls[0].msgs) != 2 ||
					calls[0].msgs[0].Content != note(k-4) || calls[0].msgs[1].Role != llm.RoleAssistant {
					t.Fatalf("turn %d: folds %+v; want one, onto %q, of note %d and its reply", k, calls, prevSummary, k-4)
				}
				if !strings.HasPrefix(c.Summary, prevSummary) {
					t.Fatalf("turn %d: summary %q lost the previous one %q", k, c.Summary, prevSummary)
				}
				prevSummary = c.Summary
				// The answer's conversation is the stored one.
				if got := res.Conversation; got == nil || got.Summary != c.Summary || got.SummarySeq != through {
					t.Fatalf("turn %d: the result's conversation %+v, stored summary through %d", k, got, through)
				}
				// The summary call counts toward the run's usage, like an llm node's.
				u := h.usageOf(res.ExecutionID)
				if u["memory"].Total() == 0 || res.Usage.Total() != u["memory"].Total()+u["llm"].Total() {
					t.Fatalf("turn %d: usage %+v, token_usage by node %+v; want the summary call counted", k, res.Usage, u)
				}
				chatInput[k] = u["llm"].InputTokens
				// The model gets the summary as context.
				last := lastChatRequest(t, h.spy)
				if !strings.Contains(last.System, "Conversation summary: "+c.Summary) || len(last.Messages) != window+1 {
					t.Fatalf("turn %d: chat request system %q with %d messages; want the summary and the window", k,
						last.System, len(last.Messages))
				}
			}
			// Bounded: the window's part of the input is the same each turn; only the
			// summary (one devllm word a message, capped by store.MaxSummaryBytes) grows.
			growth := len(strings.Fields(prevSummary)) - (2*8 - 8)
			if chatInput[30]-chatInput[8] != growth || chatInput[30] > chatInput[8]*3/2 {
				t.Errorf("llm input tokens: turn 8 %d, turn 30 %d; want them apart by the summary's growth (%d) alone",
					chatInput[8], chatInput[30], growth)
			}
			t.Logf("llm input tokens: turn 8 %d, turn 30 %d; summary %d words", chatInput[8], chatInput[30], len(strings.Fields(prevSummary)))
			// A conversation moving on a turn at a time folds from what the history
			// read brought: no read of its own.
			if n := h.reads.n.Load(); n != 0 {
				t.Errorf("%d extra message reads; want none", n)
			}
		})
	}
}

// lastChatRequest is the last model request that was not a summary.
func lastChatRequest(t *testing.T, p *foldSpy) llm.Request {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastChat
}

// chatTurns sends turns from..to of conv through req and returns conv.
func (h *summaryHarness) chatTurns(t *testing.T, req func(msg string) executor.Request, conv string, from, to int) (string, *executor.Result) {
	t.Helper()
	var res *executor.Result
	for k := from; k <= to; k++ {
		r := req(note(k))
		r.Input.ConversationID = conv
		res = h.run(t, r)
		conv = res.ConversationID
	}
	return conv, res
}

func (h *summaryHarness) eventsOfType(execID, typ string) []events.Event {
	var out []events.Event
	for _, e := range h.rec.Events() {
		if e.ExecutionID == execID && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestExecute_FailedSummaryLeavesTheRunCompletedAndIsFoldedLater(t *testing.T) {
	h := newSummaryHarness(t)
	req := func(msg string) executor.Request { return inline(memoryDef(`{"window":2}`), msg) }
	conv, _ := h.chatTurns(t, req, "", 1, 2)

	h.spy.fail.Store(true)
	conv, res := h.chatTurns(t, req, conv, 3, 3) // messages 1 and 2 leave the window
	if res.Response != "You said: "+note(3)+"." {
		t.Errorf("response %q; want the model's answer despite the failed summary", res.Response)
	}
	if c := h.conversation(t, conv); c.Summary != "" || c.SummarySeq != 0 {
		t.Errorf("after a failed fold the summary is %q through %d; want none", c.Summary, c.SummarySeq)
	}
	evs := h.eventsOfType(res.ExecutionID, events.SummaryFailed)
	want := events.SummaryFailedData{NodeID: "memory", Provider: devllm.DefaultName, ErrorCode: string(llm.CodeUnavailable), FromSeq: 0, ThroughSeq: 2}
	if len(evs) != 1 || evs[0].Data != want {
		t.Fatalf("summary_failed events %+v; want one with %+v", evs, want)
	}
	logged := h.log.String()
	if !strings.Contains(logged, `"level":"WARN"`) || !strings.Contains(logged, `"msg":"conversation summary failed`) ||
		!strings.Contains(logged, `"error_code":"unavailable"`) || !strings.Contains(logged, res.ExecutionID) {
		t.Errorf("log %s; want a warning naming the execution and the code", logged)
	}
	if strings.Contains(logged, "note-0") || strings.Contains(logged, "simulated outage") {
		t.Errorf("the warning carries content or the provider's message: %s", logged)
	}
	var detail string
	for _, n := range res.Log {
		if n.NodeID == "memory" {
			detail = n.Detail
		}
	}
	if n := h.usageOf(res.ExecutionID); n["memory"] != (llm.Usage{}) || res.Usage != n["llm"] || !strings.Contains(detail, "summary failed") {
		t.Errorf("usage %+v by node %+v, memory node %q; want only the llm's usage and the failure in the node log", res.Usage, n, detail)
	}

	// The next run folds what the failed one could not, with what left since: nothing skipped.
	h.spy.fail.Store(false)
	before := len(h.spy.calls())
	conv, res = h.chatTurns(t, req, conv, 4, 4)
	c := h.conversation(t, conv)
	if c.SummarySeq != 4 || c.Summary != "user:note-01; assistant:You; user:note-02; assistant:You" {
		t.Fatalf("after recovering: summary %q through %d; want messages 1..4", c.Summary, c.SummarySeq)
	}
	if calls := h.spy.calls()[before:]; len(calls) != 1 || len(calls[0].msgs) != 4 || calls[0].previous != "" {
		t.Fatalf("folds %+v; want one of the 4 messages", calls)
	}
	if len(h.eventsOfType(res.ExecutionID, events.SummaryFailed)) != 0 {
		t.Errorf("summary_failed on a run whose fold worked")
	}

	// While a fold fails, the model still gets the summary there is (it covers
	// what it says it does); the messages since stay for the next fold.
	h.spy.fail.Store(true)
	_, res = h.chatTurns(t, req, conv, 5, 5)
	if last := lastChatRequest(t, h.spy); !strings.Contains(last.System, "Conversation summary: "+c.Summary) {
		t.Errorf("system %q; want the previous summary while the fold fails", last.System)
	}
	if c2 := h.conversation(t, conv); c2.SummarySeq != 4 || c2.Summary != c.Summary {
		t.Errorf("a failed fold changed the summary: %q through %d", c2.Summary, c2.SummarySeq)
	}
	if ex, err := h.mem.GetExecution(context.Background(), userA, res.ExecutionID); err != nil || ex.Status != store.ExecCompleted {
		t.Errorf("execution %+v, %v; want completed", ex, err)
	}
}

func TestExecute_SummaryIsFoldedOnlyWhenTheRunIncludesIt(t *testing.T) {
	off := false
	tests := []struct {
		name      string
		memConfig string
		memory    *bool // the request's enable_memory
		turns     int
	}{
		{"include_summary false", `{"window":2,"include_summary":false}`, nil, 4},
		{"memory node disabled", `{"window":2,"enabled":false}`, nil, 4},
		{"the run's memory off", `{"window":2}`, &off, 4},
		{"nothing has left the window", `{"window":6}`, nil, 4},
		{"a new conversation", `{"window":0}`, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newSummaryHarness(t)
			req := func(msg string) executor.Request {
				r := inline(memoryDef(tt.memConfig), msg)
				r.Input.Config.EnableMemory = tt.memory
				return r
			}
			conv, _ := h.chatTurns(t, req, "", 1, 1)
			// A summary the owner wrote: only a run that includes it sends it.
			if _, err := h.mem.UpdateConversation(context.Background(), userA, conv, func(c *store.Conversation) error {
				c.Summary = "The owner's summary."
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			conv, _ = h.chatTurns(t, req, conv, 2, tt.turns)
			if calls := h.spy.calls(); len(calls) != 0 {
				t.Errorf("%d summary calls; want none", len(calls))
			}
			if c := h.conversation(t, conv); c.SummarySeq != 0 || c.Summary != "The owner's summary." {
				t.Errorf("summary %q through %d; want the owner's, untouched", c.Summary, c.SummarySeq)
			}
			sent := strings.Contains(lastChatRequest(t, h.spy).System, "The owner's summary.")
			if want := tt.memory == nil && !strings.Contains(tt.memConfig, "false"); sent != want && tt.turns > 1 {
				t.Errorf("summary sent to the model: %t, want %t", sent, want)
			}
		})
	}
}

func TestExecute_SummaryCatchesUpAtMostTwentyMessagesARunOldestFirst(t *testing.T) {
	h := newSummaryHarness(t)
	without := func(msg string) executor.Request {
		return inline(memoryDef(`{"window":2,"include_summary":false}`), msg)
	}
	with := func(msg string) executor.Request { return inline(memoryDef(`{"window":2}`), msg) }
	conv, _ := h.chatTurns(t, without, "", 1, 15) // messages 1..30, never summarised

	// Turn 16 keeps 29 and 30: 1..28 wait. The history read (window 20, and 4
	// before it) does not reach back to 1, so the fold reads them: the oldest 20.
	conv, res := h.chatTurns(t, with, conv, 16, 16)
	c := h.conversation(t, conv)
	calls := h.spy.calls()
	if c.SummarySeq != 20 || len(calls) != 1 || len(calls[0].msgs) != 20 || !strings.HasPrefix(calls[0].msgs[0].Content, "note-01 ") ||
		h.reads.n.Load() != 1 {
		t.Fatalf("first catch-up: summary through %d, folds %d (%d messages), %d extra reads; want 1..20 in one fold and one read",
			c.SummarySeq, len(calls), len(calls[0].msgs), h.reads.n.Load())
	}
	ex, err := h.mem.GetExecution(context.Background(), userA, res.ExecutionID)
	if err != nil || ex.Usage != res.Usage || res.Usage.Total() <= h.usageOf(res.ExecutionID)["llm"].Total() {
		t.Fatalf("execution usage %+v (%v), result %+v; want the fold's tokens in both", ex.Usage, err, res.Usage)
	}
	// Turn 17 keeps 31 and 32: 21..30 are left, and in the history read.
	conv, _ = h.chatTurns(t, with, conv, 17, 17)
	c = h.conversation(t, conv)
	calls = h.spy.calls()
	if c.SummarySeq != 30 || len(calls) != 2 || len(calls[1].msgs) != 10 || !strings.HasPrefix(calls[1].msgs[0].Content, "note-11 ") ||
		h.reads.n.Load() != 1 {
		t.Fatalf("second catch-up: summary through %d, %d folds, %d extra reads; want 21..30 from the history read", c.SummarySeq, len(calls), h.reads.n.Load())
	}
	for k := 1; k <= 15; k++ {
		if n := strings.Count(c.Summary, fmt.Sprintf("user:note-%02d;", k)); n != 1 {
			t.Errorf("note %d is in the summary %d times; want once", k, n)
		}
	}
}

func TestExecute_SummaryInputAndOutputAreBounded(t *testing.T) {
	h := newSummaryHarness(t)
	req := func(msg string) executor.Request { return inline(memoryDef(`{"window":2}`), msg) }
	long := func(k int) string { return note(k) + " " + strings.Repeat("é", 6000) }
	conv := ""
	for k := 1; k <= 2; k++ {
		r := req(long(k))
		r.Input.ConversationID = conv
		conv = h.run(t, r).ConversationID
	}
	if _, err := h.mem.UpdateConversation(context.Background(), userA, conv, func(c *store.Conversation) error {
		c.Summary = strings.Repeat("fact ", 12000) // 60 KB, within what an owner may set
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h.chatTurns(t, req, conv, 3, 3)
	calls := h.spy.calls()
	if len(calls) != 1 {
		t.Fatalf("%d folds, want 1", len(calls))
	}
	f := calls[0]
	if len(f.previous) > store.MaxSummaryBytes || !strings.HasPrefix(f.previous, "fact fact") {
		t.Errorf("the previous summary sent is %d bytes; want at most %d", len(f.previous), store.MaxSummaryBytes)
	}
	for _, m := range f.msgs {
		if len(m.Content) > 2000 || !strings.HasPrefix(m.Content, "note-0") && !strings.HasPrefix(m.Content, "You said: note-0") {
			t.Errorf("a folded message of %d bytes (%.20q); want each cut to 2000", len(m.Content), m.Content)
		}
	}
	if f.req.MaxTokens <= 0 || f.req.MaxTokens > 1024 || len(f.req.Tools) != 0 {
		t.Errorf("summary request max_tokens %d, %d tools; want a bounded answer and no tools", f.req.MaxTokens, len(f.req.Tools))
	}
	if c := h.conversation(t, conv); len(c.Summary) > store.MaxSummaryBytes || c.SummarySeq != 2 {
		t.Errorf("stored summary of %d bytes through %d; want at most %d through 2", len(c.Summary), c.SummarySeq, store.MaxSummaryBytes)
	}
}

// summaryOfStored is devllm's summary of the stored messages 1..through: what the
// summary must be if every one was folded exactly once, in order.
func summaryOfStored(t *testing.T, h *summaryHarness, conv string, through int) string {
	t.Helper()
	msgs, err := h.mem.Messages(context.Background(), userA, conv)
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, m := range msgs {
		if m.Seq <= through {
			word, _, _ := strings.Cut(strings.TrimSpace(m.Content), " ")
			items = append(items, string(m.Role)+":"+word)
		}
	}
	return strings.Join(items, "; ")
}

func TestExecute_ConcurrentTurnsNeverFoldAMessageTwice(t *testing.T) {
	h := newSummaryHarness(t)
	req := func(msg string) executor.Request { return inline(memoryDef(`{"window":2}`), msg) }
	conv, _ := h.chatTurns(t, req, "", 1, 3)
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				r := req(note(10*(round+1) + i))
				r.Input.ConversationID = conv
				if res, err := h.x.Execute(ctx, r, nil); err != nil || res.Status != store.ExecCompleted {
					t.Errorf("concurrent turn: %+v, %v", res, err)
				}
			})
		}
		wg.Wait()
		c := h.conversation(t, conv)
		if want := summaryOfStored(t, h, conv, c.SummarySeq); c.SummarySeq == 0 || c.Summary != want {
			t.Fatalf("round %d: summary through %d is %q; want every message up to it once, in order: %q", round, c.SummarySeq, c.Summary, want)
		}
	}
	// Turns one at a time catch up on whatever a lost race left behind.
	conv, _ = h.chatTurns(t, req, conv, 40, 45)
	c := h.conversation(t, conv)
	if want := summaryOfStored(t, h, conv, c.SummarySeq); c.Summary != want || c.SummarySeq != c.LastSeq-4 {
		t.Fatalf("summary through %d of %d messages is %q; want all but the window and the last turn, once each: %q",
			c.SummarySeq, c.LastSeq, c.Summary, want)
	}
}
