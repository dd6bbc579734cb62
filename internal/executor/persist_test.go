package executor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
)

// convSpy remembers the conversation of the last StartTurn, so a provider can look
// the new conversation up while the run is in flight.
type convSpy struct {
	*store.Memory
	mu   sync.Mutex
	conv string
}

func (s *convSpy) StartTurn(ctx context.Context, t store.StartTurn) error {
	s.mu.Lock()
	s.conv = t.UserMessage.ConversationID
	s.mu.Unlock()
	return s.Memory.StartTurn(ctx, t)
}

func (s *convSpy) lastConv() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conv
}

func TestExecute_SavesUserMessageBeforeLLMCall(t *testing.T) {
	mem := store.NewMemory()
	spy := &convSpy{Memory: mem}
	var stored [][]store.Message
	rec := &recorder{Provider: devllm.New(devllm.Options{})}
	rec.onStream = func(req *llm.Request) {
		msgs, err := mem.Messages(context.Background(), userA, spy.lastConv())
		if err != nil {
			t.Errorf("at model call: %v", err)
		}
		stored = append(stored, msgs)
	}
	h := newHarness(t, func(o *executor.Options) { o.Store = spy; o.Providers = []llm.Provider{rec} })
	h.store = mem
	res := h.mustRun(t, inline(chatDef(), "remember me"), nil)
	if len(stored) != 1 {
		t.Fatalf("model calls = %d, want 1", len(stored))
	}
	if got := stored[0]; len(got) != 1 || got[0].Role != llm.RoleUser || got[0].Content != "remember me" || got[0].Seq != 1 {
		t.Fatalf("stored at model call = %+v, want the user message with seq 1", got)
	}
	if got := h.messages(t, userA, res.ConversationID); len(got) != 2 || got[1].Role != llm.RoleAssistant {
		t.Fatalf("after the run = %+v, want user + assistant", got)
	}
}

func TestExecute_FailedRunKeepsUserMessage(t *testing.T) {
	h := newHarness(t, nil)
	res, err := h.exec(t, inline(chatDef(), "/fail invalid_request"), nil)
	if executor.ErrorCode(err) != errcode.LLM {
		t.Fatalf("err = %v, want llm_error", err)
	}
	msgs := h.messages(t, userA, res.ConversationID)
	if len(msgs) != 1 || msgs[0].Role != llm.RoleUser || msgs[0].Content != "/fail invalid_request" {
		t.Fatalf("messages = %+v, want only the user message", msgs)
	}
	if res.AssistantMessageID != "" {
		t.Errorf("AssistantMessageID = %q, want none", res.AssistantMessageID)
	}
	e := h.execution(t, userA, res.ExecutionID)
	if e.Status != store.ExecFailed || e.ErrorCode != errcode.LLM {
		t.Errorf("execution = %s/%s, want failed/llm_error", e.Status, e.ErrorCode)
	}
	conv, _, err := h.store.LoadConversation(context.Background(), userA, res.ConversationID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if conv.MessageCount != 1 || conv.TotalTokens != 0 {
		t.Errorf("conversation = %+v, want 1 message and 0 tokens", conv)
	}
}

func TestExecute_PartialReplyIsStoredIncomplete(t *testing.T) {
	tests := []struct {
		name       string
		delay      time.Duration
		msg        string
		sink       func(cancel context.CancelFunc) executor.Sink
		wantCode   string
		wantStatus string
	}{
		{"stream breaks", 0, "/break one two three four five six", nil, errcode.LLM, store.ExecFailed},
		{"caller cancels mid-stream", time.Millisecond, "one two three four five six seven eight", func(cancel context.CancelFunc) executor.Sink {
			n := 0
			return executor.SinkFunc(func(c wire.Chunk) error {
				if c.Type == wire.ChunkToken {
					if n++; n == 2 {
						cancel()
					}
				}
				return nil
			})
		}, errcode.Cancelled, store.ExecCancelled},
		{"client goes away", 0, "one two three four five six seven eight", func(context.CancelFunc) executor.Sink {
			n := 0
			return executor.SinkFunc(func(c wire.Chunk) error {
				if c.Type == wire.ChunkToken {
					if n++; n > 3 {
						return errors.New("write: broken pipe")
					}
				}
				return nil
			})
		}, errcode.Disconnected, store.ExecCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(o *executor.Options) {
				o.Providers = []llm.Provider{devllm.New(devllm.Options{Delay: tt.delay})}
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var sink executor.Sink
			if tt.sink != nil {
				sink = tt.sink(cancel)
			}
			res, err := h.x.Execute(ctx, inline(chatDef(), tt.msg), sink)
			if got := executor.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("err = %v (code %s), want %s", err, got, tt.wantCode)
			}
			if tt.wantStatus == store.ExecCancelled {
				var ce *executor.CancelledError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %T, want *CancelledError", err)
				}
			}
			if res.Status != tt.wantStatus {
				t.Fatalf("status = %s, want %s", res.Status, tt.wantStatus)
			}
			if res.Response == "" {
				t.Fatalf("Response is empty, want the partial reply")
			}
			msgs := h.messages(t, userA, res.ConversationID)
			if len(msgs) != 2 {
				t.Fatalf("messages = %+v, want user + partial assistant", msgs)
			}
			am := msgs[1]
			if am.Role != llm.RoleAssistant || am.Status != store.StatusIncomplete || am.Content != res.Response || am.ID != res.AssistantMessageID {
				t.Errorf("assistant message = %+v, want incomplete with %q", am, res.Response)
			}
			if e := h.execution(t, userA, res.ExecutionID); e.Status != tt.wantStatus || e.ErrorCode != tt.wantCode {
				t.Errorf("execution = %s/%s, want %s/%s", e.Status, e.ErrorCode, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestExecute_BreakKeepsTheFirstHalf(t *testing.T) {
	h := newHarness(t, nil)
	res, err := h.exec(t, inline(chatDef(), "/break one two three four five six"), nil)
	if got := executor.ErrorCode(err); got != errcode.LLM {
		t.Fatalf("err = %v (code %q), want %s: the stream broke", err, got, errcode.LLM)
	}
	// The echo has 9 words; devllm sends the first 4.
	want := "You said: /break one"
	if res == nil || res.Response != want || res.Status != store.ExecFailed {
		t.Fatalf("result = %+v, want failed with Response %q", res, want)
	}
	msgs := h.messages(t, userA, res.ConversationID)
	if len(msgs) != 2 || msgs[1].Status != store.StatusIncomplete || msgs[1].Content != want {
		t.Fatalf("stored messages = %+v, want the user message and %q marked incomplete", msgs, want)
	}
	if e := h.execution(t, userA, res.ExecutionID); e.Status != store.ExecFailed || e.ErrorCode != errcode.LLM {
		t.Errorf("execution = %s/%s, want failed/%s", e.Status, e.ErrorCode, errcode.LLM)
	}
}

func TestExecute_ContinuesAConversation(t *testing.T) {
	rec := &recorder{Provider: devllm.New(devllm.Options{})}
	h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{rec} })
	first := h.mustRun(t, template("general_chat", "my name is Ada"), nil)
	req := template("general_chat", "what is my name")
	req.Input.ConversationID = first.ConversationID
	second := h.mustRun(t, req, nil)
	if second.ConversationID != first.ConversationID {
		t.Fatalf("conversation changed: %s -> %s", first.ConversationID, second.ConversationID)
	}
	reqs := rec.requests()
	got := reqs[1].Messages
	want := []llm.Message{{Role: llm.RoleUser, Content: "my name is Ada"}, {Role: llm.RoleAssistant, Content: "You said: my name is Ada."},
		{Role: llm.RoleUser, Content: "what is my name"}}
	if len(got) != len(want) {
		t.Fatalf("messages sent = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Role != want[i].Role || got[i].Content != want[i].Content {
			t.Errorf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	msgs := h.messages(t, userA, first.ConversationID)
	for i, m := range msgs {
		if m.Seq != i+1 {
			t.Errorf("message %d seq = %d", i, m.Seq)
		}
	}
	if len(msgs) != 4 {
		t.Fatalf("stored %d messages, want 4", len(msgs))
	}
	conv, _, _ := h.store.LoadConversation(context.Background(), userA, first.ConversationID, 0)
	if conv.MessageCount != 4 || conv.TotalTokens != first.Usage.Total()+second.Usage.Total() {
		t.Errorf("conversation = %+v, want 4 messages and summed tokens", conv)
	}
}

func TestExecute_OtherUsersConversationIsNotFoundAndWritesNothing(t *testing.T) {
	h := newHarness(t, nil)
	first := h.mustRun(t, template("general_chat", "hello"), nil)
	req := template("general_chat", "let me in")
	req.Input.UserID = userB
	req.Input.ConversationID = first.ConversationID
	req.ExecutionID = "exec-intruder"
	res, err := h.exec(t, req, nil)
	pe, ok := errAs[*executor.PreparationError](err)
	if !ok || pe.Code != errcode.NotFound || pe.Field != "conversation_id" {
		t.Fatalf("err = %v, want not_found on conversation_id", err)
	}
	if res != nil {
		t.Errorf("result = %+v, want nil", res)
	}
	if msgs := h.messages(t, userA, first.ConversationID); len(msgs) != 2 {
		t.Errorf("owner's conversation has %d messages, want 2", len(msgs))
	}
	for _, u := range []string{userA, userB} {
		if _, err := h.store.GetExecution(context.Background(), u, "exec-intruder"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("execution stored for %s: %v", u, err)
		}
	}
}
