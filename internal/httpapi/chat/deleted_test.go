package chat_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/store"
)

// The conversation is deleted while its turn runs: standard mode answers 410
// conversation_deleted naming the execution (not a 500), and the reply is not in
// the answer.
func TestChat_ConversationDeletedWhileItsTurnRunsIs410(t *testing.T) {
	e := newEnv(t, envOpts{})
	const path = "/api/v1/workflows/execute/chat"
	e.st.beforeFinish = func(ft store.FinishTurn) {
		if err := e.st.DeleteConversation(context.Background(), ft.Execution.UserID, ft.Execution.ConversationID); err != nil {
			t.Errorf("DeleteConversation: %v", err)
		}
	}
	resp, b := e.post(t, "alice", path, `{"message":"zebra-quartz"}`)
	p := decodeProblem(t, resp, b)
	if resp.StatusCode != http.StatusGone || p.Code != "conversation_deleted" || p.ExecutionID == "" {
		t.Fatalf("%d %s; want 410 conversation_deleted naming the execution", resp.StatusCode, b)
	}
	if strings.Contains(string(b), "You said") {
		t.Fatalf("the discarded reply is in the answer: %s", b)
	}
	x, err := e.st.GetExecution(context.Background(), "alice", p.ExecutionID)
	if err != nil || x.Status != store.ExecFailed || !x.Redacted {
		t.Fatalf("execution %+v, %v; want failed and redacted", x, err)
	}
}
