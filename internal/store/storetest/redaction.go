package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
)

// secret marks every piece of content in testDeleteRedacts.
const secret = "zebra-quartz"

// testDeleteRedacts: deleting a conversation removes its content everywhere the
// store keeps it — messages, the executions' output, tool calls, error texts and
// node log errors, the responses kept for its Idempotency-Keys — keeps what
// aggregates and analytics read, and no later write (a late event's update, the
// finish of a turn that was running, a response completed after the delete) brings
// any of it back.
func testDeleteRedacts(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	_, e, err := startTurn(t, r, c, user, conv, secret+" question", true)
	must(t, "StartTurn", err)
	c.Advance(time.Second)
	// The run was sent input_data beside its message (kept in metadata) and tagged.
	e.Metadata = map[string]any{store.MetadataInputData: map[string]any{"note": secret + " input"}, "team": "blue"}
	am := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, ExecutionID: e.ID, Role: llm.RoleAssistant,
		Content: secret + " reply", Status: store.StatusIncomplete, InputTokens: 7, OutputTokens: 5, Cost: 0.5,
		CostKnown: true, CreatedAt: c.Now()}
	done := *e
	done.Status, done.FinishedAt, done.DurationMS = store.ExecFailed, c.Now(), 1000
	done.Output, done.ErrorCode, done.ErrorMessage = secret+" reply", "node_failed", "tools: "+secret+" error"
	done.Usage, done.Cost, done.CostKnown, done.ToolCalls, done.Steps = llm.Usage{InputTokens: 7, OutputTokens: 5}, 0.5, true, 1, 3
	done.MessageID = am.ID
	done.ToolCallRecords = []store.ToolCallRecord{{ID: "call_1", Name: "calculator",
		Arguments: json.RawMessage(`{"expression":"` + secret + `"}`), Result: secret + " result", IsError: true, DurationMS: 2}}
	done.Log = []store.NodeRun{{Step: 1, NodeID: "llm", Kind: "llm", Status: "ok", Detail: "1 tool call(s)"},
		{Step: 2, NodeID: "tools", Kind: "tools", Status: "error", Error: secret + " node error", DurationMS: 2}}
	must(t, "FinishTurn", r.FinishTurn(ctx, user, conv, store.FinishTurn{AssistantMessage: am, Tokens: 12, Cost: 0.5, Execution: &done}))
	_, running, err := startTurn(t, r, c, user, conv, secret+" second question", false) // still running at the delete
	must(t, "StartTurn", err)

	keptFor := func(convID string) string {
		k := uid("idem")
		must(t, "CreateIdempotency", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k, RequestHash: "h",
			CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}))
		must(t, "CompleteIdempotency", r.CompleteIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k,
			StatusCode: 200, Response: []byte(`{"response":"` + secret + `"}`), ConversationID: convID, ExpiresAt: c.Now().Add(time.Hour)}))
		return k
	}
	linked := keptFor(conv)
	if got, err := r.GetIdempotency(ctx, user, linked); err != nil || got.ConversationID != conv {
		t.Fatalf("kept response read as %+v, %v; want it tied to %s", got, err, conv)
	}
	other := chat(t, r, c, user, 1)
	otherKept, unlinked := keptFor(other), keptFor("")
	pending := uid("idem") // a request still running at the delete
	must(t, "CreateIdempotency", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: pending, RequestHash: "h",
		CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}))
	wantCode(t, "CompleteIdempotency for a conversation that does not exist", r.CompleteIdempotency(ctx,
		&store.IdempotencyRecord{UserID: user, Key: pending, StatusCode: 200, ConversationID: uid("conv")}), errcode.NotFound)

	must(t, "DeleteConversation", r.DeleteConversation(ctx, user, conv))

	got, err := r.GetExecution(ctx, user, e.ID)
	must(t, "GetExecution after delete", err)
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), secret) {
		t.Fatalf("the execution still holds content after the delete: %s", b)
	}
	if !got.Redacted || got.Status != store.ExecFailed || got.ErrorCode != "node_failed" || got.Usage.Total() != 12 ||
		got.Cost != 0.5 || !got.CostKnown || got.ToolCalls != 1 || got.Steps != 3 || got.MessageID != am.ID ||
		got.DurationMS != 1000 || got.ConversationID != conv || got.Metadata["team"] != "blue" {
		t.Fatalf("redacted execution %s; want the ids, status, codes, tokens, cost and counts kept", b)
	}
	if len(got.ToolCallRecords) != 1 || got.ToolCallRecords[0].Name != "calculator" || got.ToolCallRecords[0].ID != "call_1" ||
		!got.ToolCallRecords[0].IsError || len(got.Log) != 2 || got.Log[0].Detail != "1 tool call(s)" || got.Log[1].Status != "error" {
		t.Fatalf("redacted execution lost the shape of its tool calls or log: %s", b)
	}

	// A late terminal event's update, then the finish of the turn that was running:
	// neither stores content again, nor brings the conversation back.
	run, err := r.GetExecution(ctx, user, running.ID)
	must(t, "GetExecution of the running turn", err)
	if !run.Redacted || run.Status != store.ExecRunning {
		t.Fatalf("running execution after the delete: %+v", run)
	}
	upd, err := r.UpdateExecution(ctx, user, running.ID, func(x *store.Execution) error {
		x.Status, x.Output, x.ErrorMessage = store.ExecCompleted, secret+" late", secret+" late error"
		x.ToolCallRecords = done.ToolCallRecords
		return nil
	})
	must(t, "UpdateExecution after delete", err)
	stored, err := r.GetExecution(ctx, user, running.ID)
	must(t, "GetExecution", err)
	for _, x := range []*store.Execution{upd, stored} {
		if b, _ := json.Marshal(x); strings.Contains(string(b), secret) || !x.Redacted || x.Status != store.ExecCompleted {
			t.Fatalf("an update after the delete brought content back: %s", b)
		}
	}
	late := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, ExecutionID: running.ID,
		Role: llm.RoleAssistant, Content: secret + " late reply", Status: store.StatusComplete, CreatedAt: c.Now()}
	wantCode(t, "FinishTurn after delete", r.FinishTurn(ctx, user, conv, store.FinishTurn{AssistantMessage: late, Tokens: 3,
		Execution: running}), errcode.NotFound)
	_, err = r.GetConversation(ctx, user, conv)
	wantCode(t, "GetConversation after a late finish", err, errcode.NotFound)
	_, err = r.ListMessages(ctx, user, conv, store.PageRequest{})
	wantCode(t, "ListMessages after a late finish", err, errcode.NotFound)

	// Kept responses: the conversation's are gone, the others stay; one completed
	// after the delete is not kept (the record stays in progress, to be released).
	_, err = r.GetIdempotency(ctx, user, linked)
	wantCode(t, "GetIdempotency of a response of the deleted conversation", err, errcode.NotFound)
	for _, k := range []string{otherKept, unlinked} {
		if got, err := r.GetIdempotency(ctx, user, k); err != nil || got.State != store.IdemDone {
			t.Fatalf("kept response %s of another conversation: %+v, %v", k, got, err)
		}
	}
	wantCode(t, "CompleteIdempotency for the deleted conversation", r.CompleteIdempotency(ctx, &store.IdempotencyRecord{
		UserID: user, Key: pending, StatusCode: 200, Response: []byte(secret), ConversationID: conv}), errcode.NotFound)
	if got, err := r.GetIdempotency(ctx, user, pending); err != nil || got.State != store.IdemInProgress || len(got.Response) > 0 {
		t.Fatalf("a response completed after the delete: %+v, %v; want the record still in progress, empty", got, err)
	}

	// Another conversation's execution keeps its content.
	pg, err := r.ListExecutions(ctx, user, store.ExecutionFilter{}, store.PageRequest{Limit: store.MaxPageSize})
	must(t, "ListExecutions", err)
	seen := 0
	for _, x := range pg.Items {
		switch x.ConversationID {
		case other:
			if x.Redacted || x.Output != "answer 0" {
				t.Fatalf("another conversation's execution was redacted: %+v", x)
			}
		case conv:
			seen++ // still listed: analytics count it
		}
	}
	if seen != 2 {
		t.Fatalf("%d executions of the deleted conversation listed, want 2", seen)
	}
}
