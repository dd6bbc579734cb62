package executor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

func TestExecute_ClientHistoryIsTheModelsHistoryWithinTheWindowAndNotStored(t *testing.T) {
	rec := &recorder{Provider: devllm.New(devllm.Options{})}
	h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{rec} })
	req := template("general_chat", "third")
	req.Input.Config.MemoryWindow = 2
	req.Input.History = []llm.Message{{Role: llm.RoleUser, Content: "first"}, {Role: llm.RoleAssistant, Content: "one"},
		{Role: llm.RoleUser, Content: "second"}, {Role: llm.RoleAssistant, Content: "two"}}
	res := h.mustRun(t, req, nil)

	var seen []string
	for _, m := range rec.requests()[0].Messages {
		seen = append(seen, string(m.Role)+":"+m.Content)
	}
	if strings.Join(seen, ",") != "user:second,assistant:two,user:third" {
		t.Errorf("the model saw %v, want the last 2 history messages then the turn", seen)
	}
	msgs := h.messages(t, userA, res.ConversationID)
	if len(msgs) != 2 || msgs[0].Content != "third" || msgs[1].Content != "You said: third." {
		t.Errorf("stored %+v, want this turn only", msgs)
	}
}

func TestExecute_ClientHistoryWithAStoredConversationIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	first := h.mustRun(t, template("general_chat", "hello"), nil)
	req := template("general_chat", "again")
	req.Input.ConversationID = first.ConversationID
	req.Input.History = []llm.Message{{Role: llm.RoleUser, Content: "x"}}
	res, err := h.exec(t, req, nil)
	var pe *executor.PreparationError
	if res != nil || !errors.As(err, &pe) || pe.Code != errcode.InvalidInput || pe.Field != "conversation_id" {
		t.Fatalf("result %+v, error %v; want an invalid_input PreparationError on conversation_id", res, err)
	}
	if n := len(h.messages(t, userA, first.ConversationID)); n != 2 {
		t.Errorf("the conversation has %d messages, want the first turn's 2", n)
	}
}

func TestExecute_ResultCarriesTheLastModelCallsFinishReason(t *testing.T) {
	for _, want := range []string{llm.FinishLength, llm.FinishStop} {
		p := &scripted{name: "s", fn: func(*llm.Request) []llm.Delta {
			return []llm.Delta{{Kind: llm.DeltaText, Text: "cut"}, {Kind: llm.DeltaUsage, Usage: llm.Usage{InputTokens: 1, OutputTokens: 1}},
				{Kind: llm.DeltaFinish, FinishReason: want}}
		}}
		h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{p} })
		if res := h.mustRun(t, template("general_chat", "hi"), nil); res.FinishReason != want {
			t.Errorf("finish reason %q, want %q", res.FinishReason, want)
		}
	}
}

func TestModels_ListsEachProvidersDefaultThenItsPricedModelsOnce(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) {
		o.Providers = []llm.Provider{devllm.New(devllm.Options{}), devllm.New(devllm.Options{Name: "openai"})}
		o.DefaultModels = map[string]string{"devllm": "devllm", "openai": "gpt-4o-mini"}
	})
	ms := h.x.Models()
	if len(ms) < 3 || ms[0] != (executor.Model{ID: "devllm", Provider: "devllm"}) ||
		ms[1] != (executor.Model{ID: "gpt-4o-mini", Provider: "openai"}) {
		t.Fatalf("models %+v", ms)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.ID] {
			t.Errorf("%s listed twice", m.ID)
		}
		seen[m.ID] = true
	}
	if !seen["gpt-4o"] || !seen["gpt-5-mini"] {
		t.Errorf("the price table's openai models are missing: %+v", ms)
	}
}
