package record_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
)

// turns is what the delete test needs besides repo.
type turns interface {
	StartTurn(ctx context.Context, t store.StartTurn) error
	DeleteConversation(ctx context.Context, userID, convID string) error
}

const secret = "zebra-quartz"

// EventBridge delivers at least once, late and in any order: events of a run that
// arrive after its conversation was deleted — first deliveries and redeliveries
// alike — store nothing of what was said, in the record or in the log.
func TestApply_EventsAfterTheConversationWasDeletedStoreNoContent(t *testing.T) {
	eachRepo(t, func(t *testing.T, r repo) {
		ctx := context.Background()
		tr := r.(turns)
		err := tr.StartTurn(ctx, store.StartTurn{
			NewConversation: &store.Conversation{ID: "c1", UserID: "u1", Title: secret, CreatedAt: t0},
			UserMessage: &store.Message{ID: "m1", ConversationID: "c1", UserID: "u1", ExecutionID: "x9", Role: llm.RoleUser,
				Content: secret, Status: store.StatusComplete, CreatedAt: t0},
			Execution: &store.Execution{ID: "x9", UserID: "u1", ConversationID: "c1", Source: store.SourceRef{Kind: "template"},
				Mode: "standard", Status: store.ExecRunning, StartedAt: t0}})
		if err != nil {
			t.Fatal(err)
		}
		end := completed
		end.Status, end.ErrorCode, end.ErrorMessage = "failed", "node_failed", "tools: "+secret
		end.Output = "You said: " + secret + "."
		evs := chatTrail("x9", events.ExecutionFailed, end)
		for i := range evs {
			if d, ok := evs[i].Data.(events.NodeExecutedData); ok && d.NodeID == "tools" {
				d.Status, d.Error = "error", "tool failed on "+secret
				evs[i].Data = d
			}
		}
		applyAll(t, r, evs[:5]) // some arrive before the delete
		if err := tr.DeleteConversation(ctx, "u1", "c1"); err != nil {
			t.Fatal(err)
		}
		applyAll(t, r, evs[3:]) // the rest, and redeliveries, after it
		applyAll(t, r, evs)

		x, log := state(t, r, "x9")
		b, _ := json.Marshal(x)
		if strings.Contains(string(b), secret) || !x.Redacted {
			t.Fatalf("the record holds content after the delete: %s", b)
		}
		if x.Status != store.ExecFailed || x.ErrorCode != "node_failed" || x.Usage.Total() != 40 || x.Cost != completed.Cost {
			t.Fatalf("the late terminal event did not settle the record's status and totals: %s", b)
		}
		if len(log) != len(evs) {
			t.Fatalf("log has %d events, want %d", len(log), len(evs))
		}
		for _, ev := range log {
			if strings.Contains(string(ev.Data), secret) {
				t.Fatalf("log entry %s holds content: %s", ev.Type, ev.Data)
			}
		}
		var last events.ExecutionEndData
		if err := json.Unmarshal(log[len(log)-1].Data, &last); err != nil || last.OutputBytes != len(end.Output) ||
			last.ErrorCode != "node_failed" || last.TotalTokens != 40 {
			t.Fatalf("terminal log entry %s (%v): want totals, code and output size", log[len(log)-1].Data, err)
		}
	})
}
