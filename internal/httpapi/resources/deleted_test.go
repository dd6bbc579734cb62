package resources_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

// deliver plays the record subscriber: every event the runs emitted so far is
// stored as on-event-record would (again, for a redelivery).
func (e *env) deliver(t *testing.T) {
	t.Helper()
	repo := e.st.(record.Repo)
	for _, ev := range e.rec.Events() {
		if err := record.Apply(context.Background(), repo, ev); err != nil {
			t.Fatalf("Apply %s: %v", ev.Type, err)
		}
	}
}

func TestConversationDelete_RemovesContentFromExecutionsEventsAndKeptAnswers(t *testing.T) {
	checkDeleteRemovesContent(t, newEnv(t, envOpts{idem: true}))
}

func TestDynamo_ConversationDelete_RemovesContentFromExecutionsEventsAndKeptAnswers(t *testing.T) {
	checkDeleteRemovesContent(t, newEnv(t, envOpts{st: dynamoStore(t), idem: true}))
}

// checkDeleteRemovesContent: after DELETE /conversations/{id}, no read of the API
// shows what was said in it — not the execution (reply, tool arguments and
// results), not its events, not a replayed answer — and events delivered late
// bring none of it back; the executions stay, with their status and usage.
func checkDeleteRemovesContent(t *testing.T, e *env) {
	const secret = "zebra-quartz"
	path := strings.TrimPrefix(chat.PathChat, "POST ")
	first := e.do(t, "POST", "alice", path,
		`{"message":"/tool calculator {\"expression\":\"`+secret+`\"}","enable_tools":true}`, "Idempotency-Key", "k-del")
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first turn: %d %s", first.StatusCode, first.body)
	}
	var turn1 wire.ChatResponse
	first.json(t, &turn1)
	turn2 := e.chat(t, "alice", `{"message":"`+secret+` again","conversation_id":"`+turn1.ConversationID+`"}`)
	other := e.chat(t, "alice", `{"message":"`+secret+` elsewhere"}`)
	e.deliver(t)
	execPaths := []string{"/api/v1/executions/" + turn1.ExecutionID, "/api/v1/executions/" + turn2.ExecutionID}
	for _, p := range execPaths {
		if r := e.get(t, "alice", p); !strings.Contains(string(r.body), secret) {
			t.Fatalf("before the delete %s does not show the text, so this test proves nothing: %s", p, r.body)
		}
	}

	if r := e.do(t, "DELETE", "alice", "/api/v1/conversations/"+turn1.ConversationID, ""); r.StatusCode != http.StatusOK {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	check := func(when string) {
		t.Helper()
		for _, p := range append(execPaths, execPaths[0]+"/events", execPaths[1]+"/events") {
			r := e.get(t, "alice", p)
			if r.StatusCode != http.StatusOK || strings.Contains(string(r.body), secret) {
				t.Fatalf("%s: GET %s: %d %s", when, p, r.StatusCode, r.body)
			}
		}
		var d wire.ExecutionDetail
		e.get(t, "alice", execPaths[0]).json(t, &d)
		if !d.Redacted || d.Status != store.ExecCompleted || d.Usage.TotalTokens == 0 || len(d.OutputData.ToolCalls) != 1 ||
			d.OutputData.ToolCalls[0].Name != "calculator" {
			t.Fatalf("%s: redacted execution %+v; want status, usage and the tool call's name kept", when, d)
		}
		if r := e.get(t, "alice", "/api/v1/executions/"+other.ExecutionID); !strings.Contains(string(r.body), secret) {
			t.Fatalf("%s: another conversation's execution lost its content: %s", when, r.body)
		}
	}
	check("after the delete")
	e.deliver(t) // EventBridge redelivers, late
	check("after a late redelivery")

	// The answer kept for the key went with the conversation: a retry runs anew.
	again := e.do(t, "POST", "alice", path,
		`{"message":"/tool calculator {\"expression\":\"`+secret+`\"}","enable_tools":true}`, "Idempotency-Key", "k-del")
	if again.StatusCode != http.StatusOK || again.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after the delete: %d replayed=%q", again.StatusCode, again.Header.Get("Idempotent-Replayed"))
	}
}
