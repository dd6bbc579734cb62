package executor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/workflow"
)

func TestExecute_ModelCallRetries(t *testing.T) {
	// Fails with a retryable code after one token: it must not be retried, or the
	// client would see the text twice.
	midStream := &scripted{name: "midstream",
		fn: func(*llm.Request) []llm.Delta { return []llm.Delta{{Kind: llm.DeltaText, Text: "Hel"}} },
		fail: func(*llm.Request) error {
			return &llm.Error{Provider: "midstream", Code: llm.CodeRateLimited, Message: "throttled"}
		}}
	tests := []struct {
		name      string
		provider  llm.Provider
		msg       string
		wantCalls int
		wantCode  string // "" = completed
	}{
		{"retryable failure before the first token is retried", devllm.New(devllm.Options{}), "/fail-once rate_limited", 2, ""},
		{"unavailable is retried up to MaxRetries", devllm.New(devllm.Options{}), "/fail unavailable", 3, errcode.LLM},
		{"non-retryable failure is not retried", devllm.New(devllm.Options{}), "/fail invalid_request", 1, errcode.LLM},
		{"HTTP 503 once is retried", devllm.New(devllm.Options{}), "/fail-once 503", 2, ""},
		{"HTTP 429 is retried up to MaxRetries", devllm.New(devllm.Options{}), "/fail 429", 3, errcode.LLM},
		{"HTTP 500 is retried up to MaxRetries", devllm.New(devllm.Options{}), "/fail 500", 3, errcode.LLM},
		{"HTTP 400 is not retried", devllm.New(devllm.Options{}), "/fail 400", 1, errcode.LLM},
		{"failure after the first token is not retried", midStream, "hi", 1, errcode.LLM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{Provider: tt.provider}
			h := newHarness(t, func(o *executor.Options) {
				o.Providers = []llm.Provider{rec}
				o.RetryBase = time.Microsecond
			})
			res, err := h.exec(t, inline(chatDef(), tt.msg), nil)
			if got := len(rec.requests()); got != tt.wantCalls {
				t.Errorf("provider calls = %d, want %d", got, tt.wantCalls)
			}
			if got := executor.ErrorCode(err); err != nil && got != tt.wantCode || err == nil && tt.wantCode != "" {
				t.Fatalf("err = %v, want code %q", err, tt.wantCode)
			}
			llms := visits(res, "llm")
			if len(llms) != 1 {
				t.Fatalf("llm visits = %d, want 1 (retries happen inside the node)", len(llms))
			}
			usage := countTypes(h.eventsOf(res.ExecutionID))[events.TokenUsage]
			if tt.wantCode == "" {
				if llms[0].Status != "ok" || usage != 1 || res.Usage.OutputTokens == 0 {
					t.Errorf("log %+v, token_usage events %d, usage %+v; want one successful call", llms[0], usage, res.Usage)
				}
				if res.Response != "You said: "+tt.msg+"." {
					t.Errorf("Response = %q", res.Response)
				}
			} else if llms[0].Status != "error" {
				t.Errorf("llm visit = %+v, want error", llms[0])
			}
		})
	}
}

// flaky fails its first calls with fail after sending pre (deltas that are not
// content), then answers "ok".
type flaky struct {
	mu    sync.Mutex
	calls int
	fails int
	pre   []llm.Delta
	fail  error
	reply []llm.Delta
}

func (f *flaky) Name() string { return "devllm" } // priced (free and known)

func (f *flaky) Stream(context.Context, *llm.Request) llm.Stream {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fails {
		return &llm.SliceStream{Deltas: f.pre, Fail: f.fail}
	}
	return &llm.SliceStream{Deltas: f.reply}
}

func (f *flaky) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

func TestExecute_RetryWindowClosesAtFirstContentDelta(t *testing.T) {
	overloaded := &llm.Error{Provider: "devllm", Code: llm.CodeUnavailable, Message: "overloaded_error: Overloaded"}
	usage := llm.Delta{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 12, OutputTokens: 1}}
	tests := []struct {
		name      string
		pre       []llm.Delta
		wantCalls int
	}{
		{"usage only (message_start) before the error", []llm.Delta{usage}, 2},
		{"usage and empty text before the error", []llm.Delta{usage, {Kind: llm.DeltaText}}, 2},
		{"text before the error", []llm.Delta{usage, {Kind: llm.DeltaText, Text: "Hel"}}, 1},
		{"a tool-call fragment before the error", []llm.Delta{{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{ID: "c1", Name: "calculator"}}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			p := &flaky{fails: 1, pre: tt.pre, fail: overloaded, reply: textDeltas("all good")}
			h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{p}; o.RetryBase = time.Microsecond })
			sink := &executor.Collector{}
			res, err := h.x.Execute(ctx, inline(chatDef(), "hi"), sink)
			if p.count() != tt.wantCalls {
				t.Fatalf("provider calls = %d, want %d", p.count(), tt.wantCalls)
			}
			if tt.wantCalls == 2 {
				if err != nil || res.Response != "all good" || sink.Text() != "all good" {
					t.Fatalf("err %v, response %q, streamed %q; want the retry's reply", err, res.Response, sink.Text())
				}
			} else if executor.ErrorCode(err) != errcode.LLM {
				t.Fatalf("err = %v, want llm_error without retry", err)
			}
		})
	}
}

func TestExecute_HonoursRetryAfter(t *testing.T) {
	limited := func(d time.Duration) error {
		return &llm.Error{Provider: "devllm", Code: llm.CodeRateLimited, Status: 429, Message: "slow down", RetryAfter: d}
	}
	tests := []struct {
		name       string
		retryAfter time.Duration
		runTimeout time.Duration
		wantCalls  int
	}{
		{"waits as long as asked", 150 * time.Millisecond, time.Minute, 2},
		{"longer than MaxRetryAfter: fails at once", llm.MaxRetryAfter + time.Second, time.Minute, 1},
		{"past the run's deadline: fails at once", 5 * time.Second, 2 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			p := &flaky{fails: 1, fail: limited(tt.retryAfter), reply: textDeltas("fine")}
			h := newHarness(t, func(o *executor.Options) {
				o.Providers = []llm.Provider{p}
				o.RetryBase = time.Microsecond
				o.RunTimeout = tt.runTimeout
			})
			start := time.Now()
			_, err := h.x.Execute(ctx, inline(chatDef(), "hi"), nil)
			waited := time.Since(start)
			if p.count() != tt.wantCalls {
				t.Fatalf("provider calls = %d, want %d (err %v)", p.count(), tt.wantCalls, err)
			}
			if tt.wantCalls == 2 {
				if err != nil || waited < tt.retryAfter {
					t.Errorf("err %v after %v; want success after at least %v", err, waited, tt.retryAfter)
				}
				return
			}
			var le *llm.Error
			if !errors.As(err, &le) || le.Code != llm.CodeRateLimited {
				t.Errorf("err = %v, want the provider's rate_limited error, not a timeout", err)
			}
			if waited >= tt.retryAfter {
				t.Errorf("waited %v: should not have slept for a retry that cannot happen", waited)
			}
		})
	}
}

func TestExecute_StreamWithoutUsageHasUnknownCost(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	noUsage := []llm.Delta{{Kind: llm.DeltaText, Text: "hi there"}, {Kind: llm.DeltaFinish, FinishReason: llm.FinishStop}}
	p := &flaky{reply: noUsage}
	h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{p} })
	res, err := h.x.Execute(ctx, inline(chatDef(), "hi"), nil)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Cost.Known || res.Cost.USD != 0 {
		t.Errorf("cost = %+v, want unknown (the provider reported no usage)", res.Cost)
	}
	if am := h.messages(t, res.UserID, res.ConversationID); len(am) != 2 || am[1].CostKnown {
		t.Errorf("stored messages %+v: the assistant's cost must be unknown", am)
	}
	// The same reply with usage from a free model is a known $0.
	p2 := &flaky{reply: textDeltas("hi there")}
	h2 := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{p2} })
	res2, err := h2.x.Execute(ctx, inline(chatDef(), "hi"), nil)
	if err != nil || !res2.Cost.Known {
		t.Errorf("err %v, cost %+v; want a known cost when usage was reported", err, res2.Cost)
	}
}

// Usage arrives first (as in Anthropic's message_start) in every call, so a
// separator decided by "any delta yet" would be lost from the stream.
func TestExecute_StreamedTokensEqualStoredReply(t *testing.T) {
	usage := llm.Delta{Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 20, CacheReadTokens: 5, OutputTokens: 3}}
	textRound := func(s string) []llm.Delta {
		return append([]llm.Delta{usage}, textDeltas(s)...)
	}
	toolRound := func(preamble string) []llm.Delta {
		ds := []llm.Delta{usage}
		if preamble != "" {
			ds = append(ds, llm.Delta{Kind: llm.DeltaText, Text: preamble})
		}
		return append(ds, toolCallDeltas("c1", "calculator", `{"expression":"2+3"}`)...)
	}
	tests := []struct {
		name string
		def  *workflow.Definition
		fn   func(*llm.Request) []llm.Delta
		want string
	}{
		{"no tool round", chatDef(), func(*llm.Request) []llm.Delta { return textRound("Hello there!") }, "Hello there!"},
		{"tool round with text before the call", toolLoopDef(""), func(r *llm.Request) []llm.Delta {
			if lastMessage(r).Role == llm.RoleTool {
				return textRound("It is 5.")
			}
			return toolRound("Let me compute.")
		}, "Let me compute.\n\nIt is 5."},
		{"tool round without text before the call", toolLoopDef(""), func(r *llm.Request) []llm.Delta {
			if lastMessage(r).Role == llm.RoleTool {
				return textRound("It is 5.")
			}
			return toolRound("")
		}, "It is 5."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{&scripted{name: "devllm", fn: tt.fn}} })
			sink := &executor.Collector{}
			res, err := h.x.Execute(ctx, inline(tt.def, "what is 2+3?"), sink)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			msgs := h.messages(t, res.UserID, res.ConversationID)
			if len(msgs) != 2 {
				t.Fatalf("stored %d messages, want 2", len(msgs))
			}
			if got := sink.Text(); got != tt.want || res.Response != got || msgs[1].Content != got {
				t.Errorf("streamed %q, response %q, stored %q; want all %q", got, res.Response, msgs[1].Content, tt.want)
			}
		})
	}
}

func TestExecute_DevllmStreamEqualsStoredReply(t *testing.T) {
	for _, msg := range []string{"hello there", `/tool calculator {"expression":"2+3"}`} {
		t.Run(msg, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			h := newHarness(t, nil)
			sink := &executor.Collector{}
			res, err := h.x.Execute(ctx, inline(toolLoopDef(""), msg), sink)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			msgs := h.messages(t, res.UserID, res.ConversationID)
			if got := sink.Text(); got == "" || got != res.Response || len(msgs) != 2 || msgs[1].Content != got {
				t.Errorf("streamed %q, response %q, stored %+v; want one string", got, res.Response, msgs)
			}
			if !res.Cost.Known || res.Usage.Total() == 0 {
				t.Errorf("usage %+v cost %+v; want reported usage and a known cost", res.Usage, res.Cost)
			}
		})
	}
}
