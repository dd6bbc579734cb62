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
