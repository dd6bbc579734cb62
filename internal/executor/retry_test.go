package executor_test

import (
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
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
		{"unavailable is retried up to MaxRetries", devllm.New(devllm.Options{}), "/fail unavailable", 3, executor.CodeLLM},
		{"non-retryable failure is not retried", devllm.New(devllm.Options{}), "/fail invalid_request", 1, executor.CodeLLM},
		{"HTTP 503 once is retried", devllm.New(devllm.Options{}), "/fail-once 503", 2, ""},
		{"HTTP 429 is retried up to MaxRetries", devllm.New(devllm.Options{}), "/fail 429", 3, executor.CodeLLM},
		{"HTTP 500 is retried up to MaxRetries", devllm.New(devllm.Options{}), "/fail 500", 3, executor.CodeLLM},
		{"HTTP 400 is not retried", devllm.New(devllm.Options{}), "/fail 400", 1, executor.CodeLLM},
		{"failure after the first token is not retried", midStream, "hi", 1, executor.CodeLLM},
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
