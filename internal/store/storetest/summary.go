package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
)

// summaryTurn runs one full turn of conv carrying the summary update u.
func summaryTurn(t *testing.T, r Repo, c *Clock, user, conv string, n int, u *store.SummaryUpdate) {
	t.Helper()
	c.Advance(time.Second)
	_, e, err := startTurn(t, r, c, user, conv, fmt.Sprintf("question %d", n), false)
	must(t, "StartTurn", err)
	c.Advance(time.Second)
	now := c.Now()
	done := *e
	done.Status, done.FinishedAt = store.ExecCompleted, now
	am := &store.Message{ID: uid("msg"), ConversationID: conv, UserID: user, ExecutionID: e.ID, Role: llm.RoleAssistant,
		Content: fmt.Sprintf("answer %d", n), Status: store.StatusComplete, CreatedAt: now}
	must(t, "FinishTurn", r.FinishTurn(ctx, user, conv, store.FinishTurn{AssistantMessage: am, Tokens: 4, Execution: &done, Summary: u}))
}

func testSummaryStoredWithTurn(t *testing.T, r Repo, c *Clock) {
	tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	user := uid("u")
	conv := chat(t, r, c, user, 3) // messages 1..6
	long := strings.Repeat("é", store.MaxSummaryBytes)
	tests := []struct {
		name       string
		u          store.SummaryUpdate
		wantStored bool
		wantText   string // "" = unchanged
		wantSeq    int
	}{
		{"first summary folds onto none", store.SummaryUpdate{Text: "s1", FromSeq: 0, ThroughSeq: 4}, true, "s1", 4},
		{"a stale base is dropped", store.SummaryUpdate{Text: "stale", FromSeq: 0, ThroughSeq: 6}, false, "s1", 4},
		{"a summary that does not advance is dropped", store.SummaryUpdate{Text: "same", FromSeq: 4, ThroughSeq: 4}, false, "s1", 4},
		{"a summary past the last message is dropped", store.SummaryUpdate{Text: "future", FromSeq: 4, ThroughSeq: 1000}, false, "s1", 4},
		{"the next fold lands", store.SummaryUpdate{Text: "s2", FromSeq: 4, ThroughSeq: 8}, true, "s2", 8},
		{"an oversize summary is cut and marked", store.SummaryUpdate{Text: long, FromSeq: 8, ThroughSeq: 10}, true, long, 10},
	}
	for i, tt := range tests {
		before, err := r.GetConversation(tctx, user, conv)
		must(t, "GetConversation", err)
		u := tt.u
		summaryTurn(t, r, c, user, conv, 10+i, &u)
		got, err := r.GetConversation(tctx, user, conv)
		must(t, "GetConversation", err)
		if u.Stored != tt.wantStored {
			t.Errorf("%s: Stored %t, want %t", tt.name, u.Stored, tt.wantStored)
		}
		if !text.Shortened(got.Summary, tt.wantText) || len(got.Summary) > store.MaxSummaryBytes || got.SummarySeq != tt.wantSeq {
			t.Errorf("%s: summary %.40q through %d, want %.40q (cut to %d bytes) through %d", tt.name, got.Summary, got.SummarySeq,
				tt.wantText, store.MaxSummaryBytes, tt.wantSeq)
		}
		// The summary never costs the turn: its message and aggregates land either way.
		if got.MessageCount != before.MessageCount+2 || got.TotalTokens != before.TotalTokens+4 {
			t.Errorf("%s: conversation %+v after %+v; want the turn's 2 messages and 4 tokens", tt.name, got, before)
		}
	}
	cv, _, err := r.LoadConversation(tctx, user, conv, 2)
	must(t, "LoadConversation", err)
	if cv.SummarySeq != 10 || !text.Shortened(cv.Summary, long) {
		t.Errorf("LoadConversation: summary through %d, want 10", cv.SummarySeq)
	}
	// The owner may rewrite the summary; what it covers belongs to the turns.
	up, err := r.UpdateConversation(tctx, user, conv, func(c *store.Conversation) error {
		c.Summary, c.SummarySeq = "owner's words", 99
		return nil
	})
	must(t, "UpdateConversation", err)
	got, err := r.GetConversation(tctx, user, conv)
	must(t, "GetConversation", err)
	if up.Summary != "owner's words" || got.Summary != "owner's words" || got.SummarySeq != 10 || up.SummarySeq != 10 {
		t.Errorf("after the owner's update: returned %q/%d, stored %q/%d; want the owner's text, still through 10",
			up.Summary, up.SummarySeq, got.Summary, got.SummarySeq)
	}
	// The next fold builds on the owner's text.
	summaryTurn(t, r, c, user, conv, 30, &store.SummaryUpdate{Text: "owner's words + more", FromSeq: 10, ThroughSeq: 12})
	got, err = r.GetConversation(tctx, user, conv)
	must(t, "GetConversation", err)
	if got.Summary != "owner's words + more" || got.SummarySeq != 12 {
		t.Errorf("fold after the owner's update: %q through %d", got.Summary, got.SummarySeq)
	}
}

func testMessageRange(t *testing.T, r Repo, c *Clock) {
	tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	user := uid("u")
	conv := chat(t, r, c, user, 5) // messages 1..10
	tests := []struct {
		name            string
		user, conv      string
		from, to, limit int
		want            []int
	}{
		{"a middle range", user, conv, 3, 8, 100, []int{3, 4, 5, 6, 7, 8}},
		{"at most limit, oldest first", user, conv, 3, 8, 2, []int{3, 4}},
		{"one message", user, conv, 10, 10, 5, []int{10}},
		{"past the end", user, conv, 9, 50, 5, []int{9, 10}},
		{"from after to", user, conv, 5, 4, 5, nil},
		{"no limit is nothing", user, conv, 1, 10, 0, nil},
		{"unknown conversation", user, "nope", 1, 10, 5, nil},
		{"another user's conversation", user + "-x", conv, 1, 10, 5, nil},
	}
	for _, tt := range tests {
		got, err := r.MessageRange(tctx, tt.user, tt.conv, tt.from, tt.to, tt.limit)
		must(t, tt.name, err)
		if !slices.Equal(seqs(got), tt.want) {
			t.Errorf("%s: seqs %v, want %v", tt.name, seqs(got), tt.want)
		}
		for _, m := range got {
			if m.Content == "" || m.ConversationID != conv {
				t.Errorf("%s: message %+v lacks its content", tt.name, m)
			}
		}
	}
}

func testDeleteSummarisedMessage(t *testing.T, r Repo, c *Clock) {
	tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	user := uid("u")
	conv := chat(t, r, c, user, 3) // messages 1..6
	summaryTurn(t, r, c, user, conv, 3, &store.SummaryUpdate{Text: "about 1 to 4", ThroughSeq: 4})
	msgs := allMessages(t, r, user, conv)
	// A message the summary does not cover leaves it alone.
	must(t, "DeleteMessage 6", r.DeleteMessage(tctx, user, conv, msgs[5].ID))
	got, err := r.GetConversation(tctx, user, conv)
	must(t, "GetConversation", err)
	if got.Summary != "about 1 to 4" || got.SummarySeq != 4 {
		t.Fatalf("after deleting an unsummarised message: %q through %d", got.Summary, got.SummarySeq)
	}
	// One it covers takes the summary with it (it may quote the message); runs
	// rebuild it from the messages left.
	must(t, "DeleteMessage 2", r.DeleteMessage(tctx, user, conv, msgs[1].ID))
	got, err = r.GetConversation(tctx, user, conv)
	must(t, "GetConversation", err)
	if got.Summary != "" || got.SummarySeq != 0 {
		t.Fatalf("after deleting a summarised message: %q through %d, want none", got.Summary, got.SummarySeq)
	}
	summaryTurn(t, r, c, user, conv, 4, &store.SummaryUpdate{Text: "rebuilt", ThroughSeq: 3})
	got, err = r.GetConversation(tctx, user, conv)
	must(t, "GetConversation", err)
	if got.Summary != "rebuilt" || got.SummarySeq != 3 {
		t.Fatalf("rebuilding: %q through %d", got.Summary, got.SummarySeq)
	}
}
