package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
)

func ptr[T any](v T) *T { return &v }

func convIDs(cs []store.Conversation) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// testCreateConversation: a conversation created without messages has version 1,
// nothing counted, is listed, and its first turn is seq 1; a taken id, a bad status
// and oversize settings are refused and write nothing.
func testCreateConversation(t *testing.T, r Repo, c *Clock) {
	user, conv := uid("u"), uid("conv")
	settings := store.ConversationSettings{Description: "d", ProfileID: "p1", SystemPrompt: ptr("be kind"),
		EnableRetrieval: true, Temperature: ptr(0.0), MaxTokens: ptr(256), Tags: []string{"a", "b"},
		ExtraMetadata: map[string]any{"k": "v"}, WorkflowConfig: map[string]any{"enable_tools": true}}
	cv := &store.Conversation{ID: conv, UserID: user, Title: "planning", Status: store.ConvActive, Settings: settings,
		MessageCount: 7, TotalTokens: 9} // not the caller's to set
	must(t, "CreateConversation", r.CreateConversation(ctx, cv))
	got, err := r.GetConversation(ctx, user, conv)
	must(t, "GetConversation", err)
	if got.Title != "planning" || got.Version != 1 || got.MessageCount != 0 || got.TotalTokens != 0 || got.LastSeq != 0 ||
		!got.CreatedAt.Equal(c.Now()) || !got.LastMessageAt.Equal(c.Now()) || got.StatusOrActive() != store.ConvActive {
		t.Fatalf("created %+v", got)
	}
	gb, _ := json.Marshal(got.Settings)
	wb, _ := json.Marshal(settings)
	if string(gb) != string(wb) {
		t.Fatalf("settings read back as %s, want %s", gb, wb)
	}
	l, err := r.QueryConversations(ctx, user, store.ConversationQuery{})
	must(t, "QueryConversations", err)
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != conv {
		t.Fatalf("list after create %+v", l)
	}
	c.Advance(time.Second)
	um, _, err := startTurn(t, r, c, user, conv, "first", false)
	must(t, "StartTurn into the created conversation", err)
	if um.Seq != 1 {
		t.Fatalf("first message seq %d, want 1", um.Seq)
	}
	checkConsistent(t, r, user, conv)

	wantCode(t, "CreateConversation with a taken id", r.CreateConversation(ctx, &store.Conversation{ID: conv, UserID: user,
		Title: "again"}), errcode.Conflict)
	wantCode(t, "CreateConversation with a bad status", r.CreateConversation(ctx, &store.Conversation{ID: uid("conv"),
		UserID: user, Status: "frozen"}), errcode.InvalidInput)
	big := uid("conv")
	wantCode(t, "CreateConversation with oversize settings", r.CreateConversation(ctx, &store.Conversation{ID: big,
		UserID: user, Settings: store.ConversationSettings{ExtraMetadata: map[string]any{
			"x": strings.Repeat("y", store.MaxConversationSettingsBytes)}}}), errcode.TooLarge)
	_, err = r.GetConversation(ctx, user, big)
	wantCode(t, "GetConversation of a refused create", err, errcode.NotFound)
	if got, _ := r.GetConversation(ctx, user, conv); got.Title != "planning" {
		t.Fatalf("the refused create changed the conversation: %+v", got)
	}
}

// testUpdateConversationSettings: an update stores what the owner may change and
// nothing else; an invalid one writes nothing.
func testUpdateConversationSettings(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := chat(t, r, c, user, 1)
	up, err := r.UpdateConversation(ctx, user, conv, func(cv *store.Conversation) error {
		cv.Title, cv.Status = "renamed", store.ConvArchived
		cv.Settings.Temperature, cv.Settings.WorkflowConfig = ptr(1.5), map[string]any{"max_tool_calls": 3.0}
		cv.Provider, cv.LastSeq = "forged", 99 // not the caller's
		return nil
	})
	must(t, "UpdateConversation", err)
	got, _ := r.GetConversation(ctx, user, conv)
	if got.Title != "renamed" || got.Status != store.ConvArchived || got.Settings.Temperature == nil ||
		*got.Settings.Temperature != 1.5 || got.Settings.WorkflowConfig["max_tool_calls"] != 3.0 ||
		got.Provider != "devllm" || got.Model != "echo" || got.LastSeq != 2 || got.Version != up.Version {
		t.Fatalf("after update %+v (returned %+v)", got, up)
	}
	_, err = r.UpdateConversation(ctx, user, conv, func(cv *store.Conversation) error {
		cv.Title, cv.Status = "never stored", "frozen"
		return nil
	})
	wantCode(t, "UpdateConversation to a bad status", err, errcode.InvalidInput)
	if again, _ := r.GetConversation(ctx, user, conv); again.Title != "renamed" || again.Version != got.Version {
		t.Fatalf("a refused update wrote %+v", again)
	}
	um, _, err := startTurn(t, r, c, user, conv, "after update", false)
	must(t, "StartTurn after update", err)
	if um.Seq != 3 {
		t.Fatalf("seq after update %d, want 3", um.Seq)
	}
}

// testQueryConversations: filters, every sort order, offset, total and cursors,
// each user seeing only their own.
func testQueryConversations(t *testing.T, r Repo, c *Clock) {
	user, other := uid("u"), uid("other")
	chat(t, r, c, other, 1)
	var ids []string // by creation
	for i, s := range []struct {
		title, status string
		tags          []string
		retrieval     bool
	}{
		{"charlie", store.ConvActive, []string{"work"}, false},
		{"alpha", store.ConvArchived, []string{"work", "urgent"}, true},
		{"echo", "", nil, false},
		{"bravo", store.ConvActive, []string{"urgent"}, true},
		{"delta", store.ConvDeleted, []string{"work"}, false},
	} {
		c.Advance(time.Second)
		id := fmt.Sprintf("%s-%d", uid("conv"), i)
		must(t, "CreateConversation", r.CreateConversation(ctx, &store.Conversation{ID: id, UserID: user, Title: s.title,
			Status: s.status, Settings: store.ConversationSettings{Tags: s.tags, EnableRetrieval: s.retrieval}}))
		ids = append(ids, id)
	}
	c.Advance(time.Second)
	_, e, err := startTurn(t, r, c, user, ids[0], "hello", false) // charlie: the most recently updated, 2 messages
	must(t, "StartTurn", err)
	_, err = finishTurn(t, r, c, e, "hi", 10, 0.25)
	must(t, "FinishTurn", err)

	cases := []struct {
		name string
		q    store.ConversationQuery
		want []int // indexes into ids, in order
	}{
		{"default: updated_at desc", store.ConversationQuery{}, []int{0, 4, 3, 2, 1}},
		{"created_at asc", store.ConversationQuery{SortBy: "created_at", Asc: true}, []int{0, 1, 2, 3, 4}},
		{"title asc", store.ConversationQuery{SortBy: "title", Asc: true}, []int{1, 3, 0, 4, 2}},
		{"message_count desc", store.ConversationQuery{SortBy: "message_count"}, []int{0, 4, 3, 2, 1}},
		{"total_cost desc", store.ConversationQuery{SortBy: "total_cost"}, []int{0, 4, 3, 2, 1}},
		{"status active (unset reads active)", store.ConversationQuery{Status: store.ConvActive}, []int{0, 3, 2}},
		{"status archived", store.ConversationQuery{Status: store.ConvArchived}, []int{1}},
		{"every tag", store.ConversationQuery{Tags: []string{"work", "urgent"}}, []int{1}},
		{"one tag", store.ConversationQuery{Tags: []string{"work"}, SortBy: "title", Asc: true}, []int{1, 0, 4}},
		{"retrieval on", store.ConversationQuery{EnableRetrieval: ptr(true)}, []int{3, 1}},
		{"retrieval off", store.ConversationQuery{EnableRetrieval: ptr(false)}, []int{0, 4, 2}},
		{"last run's provider", store.ConversationQuery{Provider: "devllm", Model: "echo"}, []int{0}},
		{"another model", store.ConversationQuery{Model: "gpt-4"}, nil},
		{"offset and limit", store.ConversationQuery{SortBy: "title", Asc: true, Page: store.PageRequest{Offset: 1, Limit: 2}}, []int{3, 0}},
		{"offset past the end", store.ConversationQuery{Page: store.PageRequest{Offset: 9}}, nil},
	}
	for _, tc := range cases {
		l, err := r.QueryConversations(ctx, user, tc.q)
		must(t, tc.name, err)
		var want []string
		for _, i := range tc.want {
			want = append(want, ids[i])
		}
		if got := convIDs(l.Items); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", tc.name, got, want)
		}
		total := len(tc.want)
		if tc.q.Page.Offset > 0 {
			total = map[string]int{"offset and limit": 5, "offset past the end": 5}[tc.name]
		}
		if l.Total != total {
			t.Errorf("%s: total %d, want %d", tc.name, l.Total, total)
		}
	}
	// Cursors page the same order without gap or repeat; a cursor is bound to its query.
	q := store.ConversationQuery{SortBy: "title", Asc: true, Page: store.PageRequest{Limit: 2}}
	var got []string
	for range 5 {
		l, err := r.QueryConversations(ctx, user, q)
		must(t, "QueryConversations page", err)
		got = append(got, convIDs(l.Items)...)
		if l.Total != 5 {
			t.Fatalf("total %d on a page, want 5", l.Total)
		}
		if l.Next == "" {
			break
		}
		q.Page.Cursor = l.Next
		if _, err := r.QueryConversations(ctx, user, store.ConversationQuery{Page: store.PageRequest{Cursor: l.Next}}); code(err) != errcode.InvalidInput {
			t.Fatalf("a cursor used with another sort: %v, want invalid", err)
		}
		if _, err := r.QueryConversations(ctx, other, q); code(err) != errcode.InvalidInput {
			t.Fatalf("another user's cursor: %v, want invalid", err)
		}
	}
	if want := []string{ids[1], ids[3], ids[0], ids[4], ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("paged by cursor %v, want %v", got, want)
	}
	for _, bad := range []store.ConversationQuery{{SortBy: "colour"}, {Status: "frozen"},
		{Page: store.PageRequest{Offset: store.MaxOffset + 1}}, {Page: store.PageRequest{Cursor: "forged.cursor"}}} {
		if _, err := r.QueryConversations(ctx, user, bad); code(err) != errcode.InvalidInput {
			t.Errorf("query %+v: %v, want invalid", bad, err)
		}
	}
	l, err := r.QueryConversations(ctx, other, store.ConversationQuery{})
	must(t, "QueryConversations of another user", err)
	if l.Total != 1 || len(l.Items) != 1 || slices.Contains(ids, l.Items[0].ID) {
		t.Fatalf("another user lists %+v", l)
	}
}

// testDeleteMessage: deleting a message keeps the conversation's invariants
// (message_count, recency), keeps what its runs used, never gives a seq twice,
// removes the copies of its content and refuses while its turn runs.
func testDeleteMessage(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := chat(t, r, c, user, 2) // seqs 1..4: q0 a0 q1 a1
	msgs := allMessages(t, r, user, conv)
	first, _ := r.GetExecution(ctx, user, msgs[1].ExecutionID)
	if first == nil || first.Output != "answer 0" {
		t.Fatalf("execution of the first turn %+v", first)
	}
	k := uid("idem")
	must(t, "CreateIdempotency", r.CreateIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k, RequestHash: "h",
		CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}))
	must(t, "CompleteIdempotency", r.CompleteIdempotency(ctx, &store.IdempotencyRecord{UserID: user, Key: k, StatusCode: 200,
		Response: []byte(`{"response":"answer 0"}`), ConversationID: conv, ExpiresAt: c.Now().Add(time.Hour)}))
	before, _ := r.GetConversation(ctx, user, conv)

	c.Advance(time.Second)
	must(t, "DeleteMessage", r.DeleteMessage(ctx, user, conv, msgs[1].ID)) // a0
	cv, left := checkConsistentGaps(t, r, user, conv)
	if cv.MessageCount != 3 || !slices.Equal(seqs(left), []int{1, 3, 4}) || cv.TotalTokens != before.TotalTokens ||
		cv.TotalCost != before.TotalCost || !cv.LastMessageAt.Equal(before.LastMessageAt) || cv.Version != before.Version+1 {
		t.Fatalf("after deleting a0: %+v seqs %v (before %+v)", cv, seqs(left), before)
	}
	red, err := r.GetExecution(ctx, user, msgs[1].ExecutionID)
	must(t, "GetExecution", err)
	if !red.Redacted || red.Output != "" || red.Usage.Total() != first.Usage.Total() || red.Status != store.ExecCompleted {
		t.Fatalf("the deleted message's execution %+v; want it redacted with its usage", red)
	}
	if other, _ := r.GetExecution(ctx, user, msgs[3].ExecutionID); other.Redacted || other.Output != "answer 1" {
		t.Fatalf("another turn's execution was redacted: %+v", other)
	}
	_, err = r.GetIdempotency(ctx, user, k)
	wantCode(t, "GetIdempotency of a kept answer after a message delete", err, errcode.NotFound)

	// The next turn gets seq 5. Numbering by message_count (3) would give 4, a1's:
	// a seq is never given twice.
	c.Advance(time.Second)
	um, e, err := startTurn(t, r, c, user, conv, "q2", false)
	must(t, "StartTurn after a delete", err)
	if um.Seq != 5 {
		t.Fatalf("seq after a delete %d, want 5", um.Seq)
	}
	wantCode(t, "DeleteMessage while its turn runs", r.DeleteMessage(ctx, user, conv, um.ID), errcode.Conflict)
	c.Advance(time.Second)
	am, err := finishTurn(t, r, c, e, "a2", 4, 0.1)
	must(t, "FinishTurn after a delete", err)
	if am.Seq != 6 {
		t.Fatalf("reply seq %d, want 6", am.Seq)
	}

	// Deleting the newest message moves last_message_at back to the one before.
	must(t, "DeleteMessage newest", r.DeleteMessage(ctx, user, conv, am.ID))
	cv, left = checkConsistentGaps(t, r, user, conv)
	if !cv.LastMessageAt.Equal(um.CreatedAt) || cv.MessageCount != 4 || cv.TotalTokens != before.TotalTokens+4 {
		t.Fatalf("after deleting the newest: %+v, want last_message_at %v", cv, um.CreatedAt)
	}
	for _, m := range left {
		must(t, "DeleteMessage "+m.ID, r.DeleteMessage(ctx, user, conv, m.ID))
	}
	cv, left = checkConsistentGaps(t, r, user, conv)
	if cv.MessageCount != 0 || len(left) != 0 || !cv.LastMessageAt.Equal(cv.CreatedAt) {
		t.Fatalf("after deleting every message: %+v", cv)
	}
	wantCode(t, "DeleteMessage twice", r.DeleteMessage(ctx, user, conv, am.ID), errcode.NotFound)
	wantCode(t, "DeleteMessage in a missing conversation", r.DeleteMessage(ctx, user, uid("conv"), am.ID), errcode.NotFound)
	theirs := chat(t, r, c, uid("other"), 1)
	wantCode(t, "DeleteMessage of another user's conversation", r.DeleteMessage(ctx, user, theirs, am.ID), errcode.NotFound)
	c.Advance(time.Second)
	um, _, err = startTurn(t, r, c, user, conv, "again", false)
	must(t, "StartTurn into an emptied conversation", err)
	if um.Seq != 7 {
		t.Fatalf("seq after emptying %d, want 7", um.Seq)
	}
}

// checkConsistentGaps is checkConsistent for a conversation with deleted messages:
// seqs ascend without repeat and message_count counts what is stored.
func checkConsistentGaps(t *testing.T, r Repo, user, conv string) (*store.Conversation, []store.Message) {
	t.Helper()
	cv, err := r.GetConversation(ctx, user, conv)
	must(t, "GetConversation", err)
	msgs := allMessages(t, r, user, conv)
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Seq <= msgs[i-1].Seq {
			t.Fatalf("seqs %v do not ascend", seqs(msgs))
		}
	}
	if cv.MessageCount != len(msgs) {
		t.Fatalf("message_count %d, %d messages stored", cv.MessageCount, len(msgs))
	}
	return cv, msgs
}

// testRateMessage: a rating is stored on the message, replaced by the next one and
// counted; out of range, a missing message and another user's are refused.
func testRateMessage(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := chat(t, r, c, user, 1)
	msgs := allMessages(t, r, user, conv)
	m, err := r.RateMessage(ctx, user, conv, msgs[1].ID, 4.5)
	must(t, "RateMessage", err)
	if m.Rating == nil || *m.Rating != 4.5 || m.RatingCount != 1 || m.ID != msgs[1].ID || m.Content != "answer 0" {
		t.Fatalf("rated %+v", m)
	}
	m, err = r.RateMessage(ctx, user, conv, msgs[1].ID, 0)
	must(t, "RateMessage again", err)
	if m.Rating == nil || *m.Rating != 0 || m.RatingCount != 2 {
		t.Fatalf("rated again %+v", m)
	}
	stored := allMessages(t, r, user, conv)
	if stored[1].Rating == nil || *stored[1].Rating != 0 || stored[1].RatingCount != 2 || stored[0].Rating != nil ||
		stored[0].RatingCount != 0 {
		t.Fatalf("stored ratings %+v %+v", stored[0], stored[1])
	}
	for _, bad := range []float64{-0.5, 5.01} {
		_, err := r.RateMessage(ctx, user, conv, msgs[0].ID, bad)
		wantCode(t, fmt.Sprint("RateMessage ", bad), err, errcode.InvalidInput)
	}
	_, err = r.RateMessage(ctx, user, conv, uid("msg"), 3)
	wantCode(t, "RateMessage of a missing message", err, errcode.NotFound)
	_, err = r.RateMessage(ctx, uid("other"), conv, msgs[1].ID, 3)
	wantCode(t, "RateMessage of another user's message", err, errcode.NotFound)
	if again := allMessages(t, r, user, conv); *again[1].Rating != 0 || again[0].Rating != nil {
		t.Fatalf("refused ratings wrote %+v", again)
	}
}

// testOffsetAndCount: Offset skips items of any list; CountExecutions counts what a
// filter matches.
func testOffsetAndCount(t *testing.T, r Repo, c *Clock) {
	user := uid("u")
	conv := chat(t, r, c, user, 3) // 6 messages, 3 completed executions
	pg, err := r.ListMessages(ctx, user, conv, store.PageRequest{Offset: 2, Limit: 3})
	must(t, "ListMessages with offset", err)
	if !slices.Equal(seqs(pg.Items), []int{3, 4, 5}) || pg.Next == "" {
		t.Fatalf("messages at offset 2: %v next %q", seqs(pg.Items), pg.Next)
	}
	pg, err = r.ListMessages(ctx, user, conv, store.PageRequest{Offset: 1, Limit: 3, Cursor: pg.Next})
	must(t, "ListMessages with offset after a cursor", err)
	if got := seqs(pg.Items); len(got) != 0 || pg.Next != "" { // seq 6 is next after the cursor; offset 1 skips it
		t.Fatalf("messages at offset 1 after the cursor: %v next %q, want none", got, pg.Next)
	}
	must(t, "CreateExecution", r.CreateExecution(ctx, &store.Execution{ID: uid("exec"), UserID: user, Status: store.ExecRunning}))
	for _, tc := range []struct {
		f    store.ExecutionFilter
		want int
	}{
		{store.ExecutionFilter{}, 4},
		{store.ExecutionFilter{Status: store.ExecCompleted}, 3},
		{store.ExecutionFilter{Status: store.ExecFailed}, 0},
		{store.ExecutionFilter{SourceKind: "dynamic"}, 3},
	} {
		n, err := r.CountExecutions(ctx, user, tc.f)
		must(t, "CountExecutions", err)
		if n != tc.want {
			t.Errorf("CountExecutions(%+v) = %d, want %d", tc.f, n, tc.want)
		}
	}
	if n, _ := r.CountExecutions(ctx, uid("other"), store.ExecutionFilter{}); n != 0 {
		t.Errorf("another user counts %d executions", n)
	}
	all, err := r.ListExecutions(ctx, user, store.ExecutionFilter{}, store.PageRequest{})
	must(t, "ListExecutions", err)
	off, err := r.ListExecutions(ctx, user, store.ExecutionFilter{}, store.PageRequest{Offset: 1, Limit: 2})
	must(t, "ListExecutions with offset", err)
	if len(all.Items) != 4 || len(off.Items) != 2 || off.Items[0].ID != all.Items[1].ID || off.Items[1].ID != all.Items[2].ID {
		t.Fatalf("executions at offset 1: %d items, want the 2nd and 3rd of %d", len(off.Items), len(all.Items))
	}
}
