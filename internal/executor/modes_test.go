package executor_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/store"
)

type toolCallView struct {
	ID, Name, Args, Result string
	IsError                bool
}

func toolCallViews(rs []store.ToolCallRecord) []toolCallView {
	var out []toolCallView
	for _, r := range rs {
		out = append(out, toolCallView{r.ID, r.Name, string(r.Arguments), r.Result, r.IsError})
	}
	return out
}

func TestExecute_StandardAndStreamingAgree(t *testing.T) {
	tests := []struct {
		name string
		req  executor.Request
	}{
		{"chat", template("general_chat", "hello there")},
		{"tool run", template("code_assistant", `/tool calculator {"expression":"2+3"}`)},
		{"dynamic everything", dynamic(`/tool calculator {"expression":"6*7"}`, true, true, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			std := tt.req
			std.Mode = executor.ModeStandard
			a := h.mustRun(t, std, nil)
			str := tt.req
			str.Mode = executor.ModeStreaming
			var c executor.Collector
			b := h.mustRun(t, str, &c)

			if a.Response != b.Response || a.Usage != b.Usage || a.Steps != b.Steps {
				t.Errorf("standard %q %+v %d != streaming %q %+v %d", a.Response, a.Usage, a.Steps, b.Response, b.Usage, b.Steps)
			}
			if !reflect.DeepEqual(toolCallViews(a.ToolCalls), toolCallViews(b.ToolCalls)) {
				t.Errorf("tool calls differ: %+v vs %+v", a.ToolCalls, b.ToolCalls)
			}
			if a.Mode != executor.ModeStandard || b.Mode != executor.ModeStreaming {
				t.Errorf("modes = %s, %s", a.Mode, b.Mode)
			}
			if c.Text() != b.Response {
				t.Errorf("token chunks = %q, want %q", c.Text(), b.Response)
			}
			types := c.Types()
			if types[0] != wire.ChunkStart || !slices.Equal(types[len(types)-3:], []string{wire.ChunkUsage, wire.ChunkComplete, wire.ChunkDone}) {
				t.Errorf("chunk types = %v, want start ... usage, complete, done", types)
			}
			for i, ch := range c.Chunks {
				if ch.Seq != i+1 {
					t.Fatalf("chunk %d seq = %d", i, ch.Seq)
				}
			}
			done := c.Chunks[len(c.Chunks)-2]
			if done.Response == nil || done.Response.Response != b.Response || done.Response.ExecutionID != b.ExecutionID {
				t.Errorf("complete chunk = %+v, want the chat response", done.Response)
			}
			if e := h.execution(t, userA, b.ExecutionID); e.Mode != string(executor.ModeStreaming) {
				t.Errorf("execution mode = %s", e.Mode)
			}
		})
	}
}

func TestExecute_ErrorRunEndsWithErrorThenDone(t *testing.T) {
	h := newHarness(t, nil)
	var c executor.Collector
	res, err := h.exec(t, template("general_chat", "/fail invalid_request"), &c)
	if err == nil {
		t.Fatal("want an error")
	}
	types := c.Types()
	if types[0] != wire.ChunkStart || !slices.Equal(types[len(types)-3:], []string{wire.ChunkUsage, wire.ChunkError, wire.ChunkDone}) {
		t.Fatalf("chunk types = %v, want start ... usage, error, done", types)
	}
	ec := c.Chunks[len(c.Chunks)-2].Error
	if ec == nil || ec.Code != errcode.LLM || ec.NodeID != "llm" || *ec != *res.Error {
		t.Errorf("error chunk = %+v, want llm_error at llm as in the result %+v", ec, res.Error)
	}
	if slices.Contains(types, wire.ChunkComplete) {
		t.Errorf("an error run sent complete")
	}
}

func TestExecute_PreparationErrorSendsNoChunks(t *testing.T) {
	h := newHarness(t, nil)
	var c executor.Collector
	if _, err := h.exec(t, template("nope", "hi"), &c); err == nil {
		t.Fatal("want an error")
	}
	if len(c.Chunks) != 0 {
		t.Errorf("chunks = %v, want none (the caller answers with a problem)", c.Types())
	}
}

// decode marshals v and decodes it into a generic map.
func decode(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestResult_ConversionsMarshalDocumentedFields(t *testing.T) {
	h := newHarness(t, nil)
	res := h.mustRun(t, template("general_chat", "hi"), nil)
	total := float64(res.Usage.Total())

	chat := decode(t, res.ChatResponse())
	for _, k := range []string{"response", "conversation_id", "message_id", "execution_id", "status", "workflow_type",
		"tokens_used", "usage", "cost", "cost_known", "tool_calls", "sources", "response_time_ms"} {
		if _, ok := chat[k]; !ok {
			t.Errorf("ChatResponse lacks %q: %v", k, chat)
		}
	}
	if chat["tool_calls"] == nil || chat["sources"] == nil {
		t.Errorf("arrays must be [] not null: %v", chat)
	}
	if chat["tokens_used"] != total || chat["usage"].(map[string]any)["total_tokens"] != total || total == 0 {
		t.Errorf("token totals = %v / %v, want %v", chat["tokens_used"], chat["usage"], total)
	}
	if chat["workflow_type"] != "general_chat" || chat["status"] != "completed" || chat["response"] != res.Response {
		t.Errorf("ChatResponse = %v", chat)
	}
	if _, ok := chat["error"]; ok {
		t.Errorf("a completed run has an error field")
	}

	// The predecessor's ChatResponse: the reply as a stored message and the
	// conversation after the turn, beside chatter's fields.
	msg, _ := chat["message"].(map[string]any)
	conv, _ := chat["conversation"].(map[string]any)
	if msg["id"] != res.AssistantMessageID || msg["role"] != "assistant" || msg["content"] != res.Response ||
		msg["sequence_number"] != 2.0 || msg["total_tokens"] != total || msg["conversation_id"] != res.ConversationID {
		t.Errorf("ChatResponse.message = %v", msg)
	}
	if conv["id"] != res.ConversationID || conv["message_count"] != 2.0 || conv["total_tokens"] != total ||
		conv["user_id"] != userA || conv["status"] != "active" || conv["title"] != "hi" {
		t.Errorf("ChatResponse.conversation = %v", conv)
	}
	// It is the conversation as stored, without another read.
	next := template("general_chat", "again")
	next.Input.ConversationID = res.ConversationID
	again := h.mustRun(t, next, nil)
	stored, err := h.store.GetConversation(context.Background(), userA, res.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.ChatResponse().Conversation; got.Version != stored.Version || got.MessageCount != stored.MessageCount ||
		got.TotalTokens != stored.TotalTokens || !got.LastMessageAt.Equal(stored.LastMessageAt) || got.Title != stored.Title {
		t.Errorf("conversation after the second turn = %+v, stored %+v", got, stored)
	}

	wer := decode(t, res.WorkflowExecutionResponse(false))
	// The predecessor's WorkflowExecutionResponse names, beside chatter's.
	if wer["id"] != res.ExecutionID || wer["definition_id"] != "" || wer["owner_id"] != userA ||
		wer["tokens_used"] != total || wer["execution_time_ms"] == nil || wer["debug_info"] != nil {
		t.Errorf("WorkflowExecutionResponse old fields = %v", wer)
	}
	if od, _ := wer["output_data"].(map[string]any); od["response"] != res.Response {
		t.Errorf("output_data = %v", wer["output_data"])
	}
	if lg, _ := wer["execution_log"].([]any); len(lg) != len(res.Log) {
		t.Errorf("execution_log = %v", wer["execution_log"])
	}
	if dbg, _ := decode(t, res.WorkflowExecutionResponse(true))["debug_info"].(map[string]any); dbg["steps"] != float64(res.Steps) {
		t.Errorf("debug_info = %v", dbg)
	}
	if _, ok := wer["output"]; ok {
		t.Errorf("output beside output_data: one name for one object")
	}
	out, _ := wer["output_data"].(map[string]any)
	for _, k := range []string{"response", "tool_calls", "sources", "variables"} {
		if v, ok := out[k]; !ok || v == nil {
			t.Errorf("output_data.%s = %v, want present and non-null", k, v)
		}
	}
	for _, k := range []string{"execution_id", "status", "conversation_id", "source", "usage", "steps", "started_at", "completed_at", "duration_ms"} {
		if _, ok := wer[k]; !ok {
			t.Errorf("WorkflowExecutionResponse lacks %q", k)
		}
	}
	if wer["usage"].(map[string]any)["total_tokens"] != total {
		t.Errorf("usage = %v", wer["usage"])
	}

	first, _ := wer["execution_log"].([]any)[0].(map[string]any)
	for _, k := range []string{"step", "node_id", "kind", "status", "started_at", "duration_ms"} {
		if _, ok := first[k]; !ok {
			t.Errorf("log entry lacks %q: %v", k, first)
		}
	}
}

func TestResult_ConversionsOfAnEmptyResultUseEmptyArrays(t *testing.T) {
	r := &executor.Result{StartedAt: time.Unix(0, 0), FinishedAt: time.Unix(1, 0)}
	chat := decode(t, r.ChatResponse())
	if _, ok := chat["tool_calls"].([]any); !ok {
		t.Errorf("tool_calls = %v, want []", chat["tool_calls"])
	}
	if _, ok := chat["sources"].([]any); !ok {
		t.Errorf("sources = %v, want []", chat["sources"])
	}
	if chat["response_time_ms"] != 1000.0 {
		t.Errorf("response_time_ms = %v, want 1000", chat["response_time_ms"])
	}
	det := decode(t, r.WorkflowExecutionResponse(false))
	if _, ok := det["execution_log"].([]any); !ok {
		t.Errorf("execution_log = %v, want []", det["execution_log"])
	}
	if v, ok := det["output_data"].(map[string]any)["variables"].(map[string]any); !ok || len(v) != 0 {
		t.Errorf("variables = %v, want {}", v)
	}
}

func TestResult_FailedConversionCarriesTheError(t *testing.T) {
	h := newHarness(t, nil)
	res, _ := h.exec(t, template("general_chat", "/fail invalid_request"), nil)
	chat := decode(t, res.ChatResponse())
	e, _ := chat["error"].(map[string]any)
	if chat["status"] != "failed" || e["code"] != errcode.LLM || e["node_id"] != "llm" {
		t.Errorf("ChatResponse = %v, want failed with llm_error", chat)
	}
}
