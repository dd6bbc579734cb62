package resources_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/wire"
)

// The old conversation operations and execution reads: for each, a minimal and a
// full request as the old clients send them, what those clients rely on beyond the
// schema, and another user's view. Each case also checks every answer against
// chatter's own document (e.checked).

func init() { contractCases = append(contractCases, conversationCases...) }

// conversationCases are this file's cases.
var conversationCases = []contractCase{
	{"POST /api/v1/conversations/", contractCreateConversation},
	{"GET /api/v1/conversations/", contractListConversations},
	{"GET /api/v1/conversations/{conversation_id}", contractGetConversation},
	{"PUT /api/v1/conversations/{conversation_id}", contractUpdateConversation},
	{"DELETE /api/v1/conversations/{conversation_id}", contractDeleteConversation},
	{"GET /api/v1/conversations/{conversation_id}/messages", contractListMessages},
	{"DELETE /api/v1/conversations/{conversation_id}/messages/{message_id}", contractDeleteMessage},
	{"PATCH /api/v1/conversations/{conversation_id}/messages/{message_id}/rating", contractRateMessage},
	{"GET /api/v1/workflows/executions", contractListExecutions},
	{"GET /api/v1/workflows/definitions/{workflow_id}/executions", contractDefinitionExecutions},
	{"GET /api/v1/workflows/definitions/{workflow_id}/executions/{execution_id}", contractDefinitionExecution},
	{"GET /api/v1/workflows/definitions/{workflow_id}/executions/{execution_id}/logs", contractExecutionLogs},
	{"GET /api/v1/workflows/definitions/{workflow_id}/analytics", contractAnalytics},
}

// checked turns the check of every answer against chatter's own document back on.
func (e *env) checked() *env { e.noCheck = false; return e }

// want fails unless r has status and is JSON (or a problem when status >= 400).
func want(t *testing.T, r response, status int, what string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: %d %s, want %d", what, r.StatusCode, r.body, status)
	}
}

// wantProblem fails unless r is a problem of status naming field.
func wantProblem(t *testing.T, r response, status int, field, what string) {
	t.Helper()
	p := r.problem(t)
	if r.StatusCode != status || len(p.Errors) == 0 || p.Errors[0].Field != field {
		t.Errorf("%s: %d %s, want %d naming %q", what, r.StatusCode, r.body, status, field)
	}
}

// createConv creates a conversation for user through the old path.
func (e *env) createConv(t *testing.T, user string, body any) wire.Conversation {
	t.Helper()
	r := e.old(t, "POST", user, "/api/v1/conversations/", body)
	want(t, r, http.StatusCreated, "create conversation")
	var c wire.Conversation
	r.json(t, &c)
	return c
}

func (e *env) listConvs(t *testing.T, user, query string) resources.ConversationList {
	t.Helper()
	r := e.old(t, "GET", user, "/api/v1/conversations/"+query, nil)
	want(t, r, http.StatusOK, "list conversations "+query)
	var l resources.ConversationList
	r.json(t, &l)
	return l
}

func (e *env) getConv(t *testing.T, user, id, query string) (wire.ConversationWithMessages, response) {
	t.Helper()
	r := e.old(t, "GET", user, "/api/v1/conversations/"+id+query, nil)
	var c wire.ConversationWithMessages
	if r.StatusCode == http.StatusOK {
		r.json(t, &c)
	}
	return c, r
}

func (e *env) messages(t *testing.T, user, conv, query string) []wire.Message {
	t.Helper()
	r := e.old(t, "GET", user, "/api/v1/conversations/"+conv+"/messages"+query, nil)
	want(t, r, http.StatusOK, "messages "+query)
	var ms []wire.Message
	r.json(t, &ms)
	return ms
}

func conversationIDs(cs []wire.Conversation) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

var fullConversation = map[string]any{"title": "Trip planning", "description": "summer", "profile_id": "p-1",
	"system_prompt": "Be brief.", "enable_retrieval": true, "temperature": 0.4, "max_tokens": 512,
	"workflow_config": map[string]any{"enable_tools": true}, "extra_metadata": map[string]any{"source": "ui"}}

func contractCreateConversation(t *testing.T, e *env) {
	e.checked()
	minimal := e.createConv(t, "alice", map[string]any{"title": "Hello"})
	if minimal.ID == "" || minimal.Title != "Hello" || minimal.UserID != "alice" || minimal.Status != "active" ||
		minimal.MessageCount != 0 || minimal.LastMessageAt != nil || minimal.SystemPrompt != nil || minimal.Temperature != nil {
		t.Fatalf("minimal create: %+v", minimal)
	}
	full := e.createConv(t, "alice", fullConversation)
	if full.SystemPrompt == nil || *full.SystemPrompt != "Be brief." || full.Temperature == nil || *full.Temperature != 0.4 ||
		full.MaxTokens == nil || *full.MaxTokens != 512 || !full.EnableRetrieval || full.ProfileID == nil ||
		*full.ProfileID != "p-1" || full.WorkflowConfig["enable_tools"] != true || full.ExtraMetadata["source"] != "ui" ||
		full.Description == nil || *full.Description != "summer" {
		t.Fatalf("full create: %+v", full)
	}
	// The slash-less path creates too.
	r := e.do(t, "POST", "alice", "/api/v1/conversations", `{"title":"no slash"}`)
	want(t, r, http.StatusCreated, "create without the slash")

	// A created conversation is listed, readable, and a chat continues it from seq 1.
	l := e.listConvs(t, "alice", "")
	if l.TotalCount != 3 || !slices.Contains(conversationIDs(l.Conversations), minimal.ID) || !slices.Contains(conversationIDs(l.Conversations), full.ID) {
		t.Fatalf("list after create: %+v", l)
	}
	e.chat(t, "alice", `{"message":"first words","conversation_id":"`+minimal.ID+`"}`)
	got, _ := e.getConv(t, "alice", minimal.ID, "")
	if got.MessageCount != 2 || len(got.Messages) != 2 || got.Messages[0].SequenceNumber != 1 ||
		got.Messages[0].Content != "first words" || got.Title != "Hello" || got.LastMessageAt == nil {
		t.Fatalf("conversation after a chat in it: %+v", got)
	}

	// Bad input is a 422 naming the field, and stores nothing.
	for _, c := range []struct{ body, field string }{
		{`{"system_prompt":"no title"}`, "title"},
		{`{"title":"x","temperature":2.5}`, "temperature"},
		{`{"title":"x","max_tokens":0}`, "max_tokens"},
		{`{"title":"x","colour":"red"}`, "colour"},
		{`{"title":7}`, "/title"},
	} {
		wantProblem(t, e.do(t, "POST", "alice", "/api/v1/conversations/", c.body), http.StatusUnprocessableEntity, c.field, c.body)
	}
	big := `{"title":"x","extra_metadata":{"blob":"` + strings.Repeat("y", 70<<10) + `"}}`
	if r := e.do(t, "POST", "alice", "/api/v1/conversations/", big); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize settings: %d %s", r.StatusCode, r.body)
	}
	if l := e.listConvs(t, "alice", ""); l.TotalCount != 3 {
		t.Errorf("refused creates stored something: total %d", l.TotalCount)
	}
	// Another user sees none of it.
	if l := e.listConvs(t, "bob", ""); l.TotalCount != 0 || len(l.Conversations) != 0 {
		t.Errorf("bob lists %+v", l)
	}
	if _, r := e.getConv(t, "bob", full.ID, ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob reads alice's conversation: %d", r.StatusCode)
	}
}

func contractListConversations(t *testing.T, e *env) {
	e.checked()
	empty := e.listConvs(t, "alice", "")
	if empty.TotalCount != 0 || empty.Conversations == nil || empty.Limit != 50 || empty.Offset != 0 {
		t.Fatalf("empty list: %s", fmt.Sprint(empty))
	}
	a := e.createConv(t, "alice", map[string]any{"title": "alpha", "tags": []string{"work", "urgent"}})
	b := e.createConv(t, "alice", map[string]any{"title": "bravo", "enable_retrieval": true, "tags": []string{"work"}})
	c := e.createConv(t, "alice", map[string]any{"title": "charlie"})
	e.chat(t, "alice", `{"message":"hi","conversation_id":"`+c.ID+`"}`)
	if r := e.old(t, "PUT", "alice", "/api/v1/conversations/"+b.ID, map[string]any{"status": "archived"}); r.StatusCode != 200 {
		t.Fatalf("archive: %d %s", r.StatusCode, r.body)
	}
	e.createConv(t, "bob", map[string]any{"title": "bob's", "tags": []string{"work"}})

	// Default order: most recently updated first.
	if l := e.listConvs(t, "alice", ""); !slices.Equal(conversationIDs(l.Conversations), []string{b.ID, c.ID, a.ID}) || l.TotalCount != 3 {
		t.Errorf("default order %v, want bravo (archived last), charlie (chatted), alpha", conversationIDs(l.Conversations))
	}
	full := "?status=active&llm_provider=devllm&llm_model=" + "echo" + "&tags=work&enable_retrieval=false&limit=10&offset=0&sort_by=title&sort_order=asc"
	if l := e.listConvs(t, "alice", full); len(l.Conversations) != 0 || l.TotalCount != 0 || l.Limit != 10 {
		t.Errorf("full query (nothing matches every filter): %+v", l)
	}
	cases := []struct {
		query string
		want  []string
		total int
	}{
		{"?sort_by=title&sort_order=asc", []string{a.ID, b.ID, c.ID}, 3},
		{"?sort_by=title&sort_order=asc&limit=1&offset=1", []string{b.ID}, 3},
		{"?sort_by=created_at&sort_order=desc&offset=2", []string{a.ID}, 3},
		{"?status=archived", []string{b.ID}, 1},
		{"?status=active&sort_by=title&sort_order=asc", []string{a.ID, c.ID}, 2},
		{"?tags=work&tags=urgent", []string{a.ID}, 1},
		{"?tags=work&sort_by=title&sort_order=asc", []string{a.ID, b.ID}, 2},
		{"?enable_retrieval=true", []string{b.ID}, 1},
		{"?llm_provider=devllm", []string{c.ID}, 1},
		{"?offset=5", []string{}, 3},
	}
	for _, tc := range cases {
		l := e.listConvs(t, "alice", tc.query)
		if got := conversationIDs(l.Conversations); !slices.Equal(got, tc.want) || l.TotalCount != tc.total {
			t.Errorf("%s: %v total %d, want %v total %d", tc.query, got, l.TotalCount, tc.want, tc.total)
		}
	}
	// Offset pages cover everything once; the cursor (chatter's) does the same.
	var paged []string
	for off := 0; off < 3; off++ {
		paged = append(paged, conversationIDs(e.listConvs(t, "alice", fmt.Sprintf("?sort_by=title&sort_order=asc&limit=1&offset=%d", off)).Conversations)...)
	}
	cur := e.listConvs(t, "alice", "?sort_by=title&sort_order=asc&limit=2")
	rest := e.do(t, "GET", "alice", "/api/v1/conversations/?sort_by=title&sort_order=asc&limit=2&cursor="+cur.NextCursor, "")
	var l2 resources.ConversationList
	rest.json(t, &l2)
	if !slices.Equal(paged, []string{a.ID, b.ID, c.ID}) || !slices.Equal(append(conversationIDs(cur.Conversations), conversationIDs(l2.Conversations)...), paged) ||
		l2.NextCursor != "" {
		t.Errorf("offset pages %v, cursor pages %v + %v", paged, conversationIDs(cur.Conversations), conversationIDs(l2.Conversations))
	}
	// The slash-less path answers the same.
	slash := e.old(t, "GET", "alice", "/api/v1/conversations/?sort_by=title", nil)
	plain := e.do(t, "GET", "alice", "/api/v1/conversations?sort_by=title", "")
	if plain.StatusCode != 200 || string(plain.body) != string(slash.body) {
		t.Errorf("without the slash: %d %s\nwith: %s", plain.StatusCode, plain.body, slash.body)
	}
	// Values the old schema refuses are 422s naming the parameter.
	for _, q := range []string{"?limit=0", "?offset=-1", "?sort_order=sideways", "?status=frozen", "?enable_retrieval=perhaps",
		"?sort_by=colour", "?limt=5"} {
		field := strings.SplitN(strings.TrimPrefix(q, "?"), "=", 2)[0]
		wantProblem(t, e.do(t, "GET", "alice", "/api/v1/conversations/"+q, ""), http.StatusUnprocessableEntity, field, q)
	}
	// Bob lists his own only.
	if l := e.listConvs(t, "bob", "?tags=work"); l.TotalCount != 1 || l.Conversations[0].UserID != "bob" {
		t.Errorf("bob's list %+v", l)
	}
}

func contractGetConversation(t *testing.T, e *env) {
	e.checked()
	run := e.chat(t, "alice", `{"message":"hello there"}`)
	c, r := e.getConv(t, "alice", run.ConversationID, "")
	want(t, r, http.StatusOK, "get")
	if c.ID != run.ConversationID || c.MessageCount != 2 || len(c.Messages) != 2 || c.Messages[0].Role != "user" ||
		c.Messages[1].Role != "assistant" || c.Messages[1].Content != run.Response || c.Messages[1].TotalTokens == nil ||
		*c.Messages[1].TotalTokens != run.TokensUsed || c.TotalTokens != run.TokensUsed || c.Messages[0].PromptTokens != nil {
		t.Fatalf("get with messages: %s", r.body)
	}
	c, r = e.getConv(t, "alice", run.ConversationID, "?include_messages=false")
	want(t, r, http.StatusOK, "get without messages")
	if len(c.Messages) != 0 || c.MessageCount != 2 {
		t.Errorf("include_messages=false: %s", r.body)
	}
	if _, r := e.getConv(t, "bob", run.ConversationID, ""); r.StatusCode != http.StatusNotFound || strings.Contains(string(r.body), "hello") {
		t.Errorf("bob: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.do(t, "GET", "alice", "/api/v1/conversations/"+run.ConversationID+"?include_messages=maybe", ""),
		http.StatusUnprocessableEntity, "include_messages", "bad include_messages")
}

func contractUpdateConversation(t *testing.T, e *env) {
	e.checked()
	c := e.createConv(t, "alice", fullConversation)
	path := "/api/v1/conversations/" + c.ID
	r := e.old(t, "PUT", "alice", path, map[string]any{})
	want(t, r, http.StatusOK, "empty update")
	var same wire.Conversation
	r.json(t, &same)
	if same.Title != c.Title || same.Temperature == nil || *same.Temperature != 0.4 || same.Version != c.Version+1 {
		t.Fatalf("an empty update changed the conversation: %s", r.body)
	}
	full := map[string]any{"title": "Renamed", "status": "archived", "temperature": 1.1, "max_tokens": 64,
		"workflow_config": map[string]any{"max_tool_calls": 3}, "extra_metadata": map[string]any{"pinned": true}}
	r = e.old(t, "PUT", "alice", path, full)
	want(t, r, http.StatusOK, "full update")
	got, _ := e.getConv(t, "alice", c.ID, "")
	if got.Title != "Renamed" || got.Status != "archived" || *got.Temperature != 1.1 || *got.MaxTokens != 64 ||
		got.WorkflowConfig["max_tool_calls"] != float64(3) || got.ExtraMetadata["pinned"] != true ||
		got.SystemPrompt == nil || *got.SystemPrompt != "Be brief." {
		t.Fatalf("after the full update: %+v", got)
	}
	// null clears a setting.
	r = e.old(t, "PUT", "alice", path, map[string]any{"temperature": nil, "workflow_config": nil})
	want(t, r, http.StatusOK, "clearing update")
	if got, _ = e.getConv(t, "alice", c.ID, ""); got.Temperature != nil || got.WorkflowConfig != nil || *got.MaxTokens != 64 {
		t.Errorf("after null: %+v", got)
	}
	wantProblem(t, e.do(t, "PUT", "alice", path, `{"status":"frozen"}`), http.StatusUnprocessableEntity, "status", "bad status")
	wantProblem(t, e.do(t, "PUT", "alice", path, `{"temperature":-1}`), http.StatusUnprocessableEntity, "temperature", "bad temperature")
	if r := e.do(t, "PUT", "bob", path, `{"title":"stolen"}`); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob's update: %d", r.StatusCode)
	}
	if got, _ = e.getConv(t, "alice", c.ID, ""); got.Title != "Renamed" || got.Status != "archived" {
		t.Errorf("refused updates changed it: %+v", got)
	}
}

func contractDeleteConversation(t *testing.T, e *env) {
	e.checked()
	run := e.chat(t, "alice", `{"message":"to be deleted"}`)
	keep := e.createConv(t, "alice", map[string]any{"title": "keep"})
	if r := e.old(t, "DELETE", "bob", "/api/v1/conversations/"+run.ConversationID, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("bob's delete: %d", r.StatusCode)
	}
	r := e.old(t, "DELETE", "alice", "/api/v1/conversations/"+run.ConversationID, nil)
	want(t, r, http.StatusOK, "delete")
	var done resources.Done
	r.json(t, &done)
	if done.Message == "" {
		t.Errorf("delete answer %s", r.body)
	}
	if _, r := e.getConv(t, "alice", run.ConversationID, ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("read after delete: %d", r.StatusCode)
	}
	if l := e.listConvs(t, "alice", ""); l.TotalCount != 1 || l.Conversations[0].ID != keep.ID {
		t.Errorf("list after delete: %+v", l)
	}
	// Its execution stays, redacted, with its usage.
	var x wire.ExecutionDetail
	e.get(t, "alice", "/api/v1/executions/"+run.ExecutionID).json(t, &x)
	if !x.Redacted || x.TokensUsed != run.TokensUsed || x.OutputData.Response != "" {
		t.Errorf("execution after the delete: %+v", x)
	}
	if r := e.old(t, "DELETE", "alice", "/api/v1/conversations/"+run.ConversationID, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("second delete: %d", r.StatusCode)
	}
}

func contractListMessages(t *testing.T, e *env) {
	e.checked()
	run := e.chat(t, "alice", `{"message":"one"}`)
	e.chat(t, "alice", `{"message":"two","conversation_id":"`+run.ConversationID+`"}`)
	ms := e.messages(t, "alice", run.ConversationID, "")
	if len(ms) != 4 || ms[0].Content != "one" || ms[2].Content != "two" || ms[3].SequenceNumber != 4 ||
		ms[1].ProviderUsed == nil || *ms[1].ProviderUsed != "devllm" || ms[1].RatingCount != 0 {
		t.Fatalf("messages: %+v", ms)
	}
	page := e.messages(t, "alice", run.ConversationID, "?limit=2&offset=1")
	if len(page) != 2 || page[0].SequenceNumber != 2 || page[1].SequenceNumber != 3 {
		t.Errorf("limit=2&offset=1: %+v", page)
	}
	r := e.old(t, "GET", "alice", "/api/v1/conversations/"+run.ConversationID+"/messages?limit=3", nil)
	if r.Header.Get("X-Total-Count") != "4" || nextCursor(t, r) == "" {
		t.Errorf("page headers %v", r.Header)
	}
	if r := e.old(t, "GET", "bob", "/api/v1/conversations/"+run.ConversationID+"/messages", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob: %d", r.StatusCode)
	}
}

func contractDeleteMessage(t *testing.T, e *env) {
	e.checked()
	run := e.chat(t, "alice", `{"message":"one"}`)
	e.chat(t, "alice", `{"message":"two","conversation_id":"`+run.ConversationID+`"}`)
	before, _ := e.getConv(t, "alice", run.ConversationID, "")
	ms := before.Messages
	path := "/api/v1/conversations/" + run.ConversationID + "/messages/" + ms[1].ID
	if r := e.old(t, "DELETE", "bob", path, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("bob's delete: %d", r.StatusCode)
	}
	r := e.old(t, "DELETE", "alice", path, nil)
	want(t, r, http.StatusOK, "delete message")
	after, _ := e.getConv(t, "alice", run.ConversationID, "")
	if after.MessageCount != 3 || len(after.Messages) != 3 || after.TotalTokens != before.TotalTokens ||
		slices.ContainsFunc(after.Messages, func(m wire.Message) bool { return m.ID == ms[1].ID }) {
		t.Fatalf("after deleting a message: %+v", after)
	}
	var x wire.ExecutionDetail
	e.get(t, "alice", "/api/v1/executions/"+run.ExecutionID).json(t, &x)
	if !x.Redacted || x.OutputData.Response != "" || x.TokensUsed != run.TokensUsed {
		t.Errorf("the deleted reply's execution: %+v", x)
	}
	next := e.chat(t, "alice", `{"message":"three","conversation_id":"`+run.ConversationID+`"}`)
	if ms := e.messages(t, "alice", run.ConversationID, ""); len(ms) != 5 || ms[3].SequenceNumber != 5 ||
		ms[4].Content != next.Response {
		t.Errorf("a turn after the delete: %+v", ms)
	}
	if r := e.old(t, "DELETE", "alice", path, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("second delete: %d", r.StatusCode)
	}
}

func contractRateMessage(t *testing.T, e *env) {
	e.checked()
	run := e.chat(t, "alice", `{"message":"rate me"}`)
	ms := e.messages(t, "alice", run.ConversationID, "")
	path := "/api/v1/conversations/" + run.ConversationID + "/messages/" + ms[1].ID + "/rating"
	r := e.old(t, "PATCH", "alice", path, map[string]any{"rating": 4.5})
	want(t, r, http.StatusOK, "rate")
	var rated resources.Rated
	r.json(t, &rated)
	if rated.Rating != 4.5 || rated.RatingCount != 1 || rated.Message == "" {
		t.Fatalf("rated: %s", r.body)
	}
	r = e.old(t, "PATCH", "alice", path, map[string]any{"rating": 0})
	r.json(t, &rated)
	if rated.Rating != 0 || rated.RatingCount != 2 {
		t.Fatalf("rated again: %s", r.body)
	}
	if ms := e.messages(t, "alice", run.ConversationID, ""); ms[1].Rating == nil || *ms[1].Rating != 0 ||
		ms[1].RatingCount != 2 || ms[0].Rating != nil {
		t.Errorf("stored rating: %+v", ms)
	}
	wantProblem(t, e.do(t, "PATCH", "alice", path, `{"rating":5.5}`), http.StatusUnprocessableEntity, "rating", "rating 5.5")
	wantProblem(t, e.do(t, "PATCH", "alice", path, `{}`), http.StatusUnprocessableEntity, "rating", "no rating")
	if r := e.do(t, "PATCH", "bob", path, `{"rating":1}`); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob's rating: %d", r.StatusCode)
	}
	if ms := e.messages(t, "alice", run.ConversationID, ""); *ms[1].Rating != 0 || ms[1].RatingCount != 2 {
		t.Errorf("refused ratings changed it: %+v", ms[1])
	}
}

func (e *env) executions(t *testing.T, user, query string) resources.ExecutionList {
	t.Helper()
	r := e.old(t, "GET", user, "/api/v1/workflows/executions"+query, nil)
	want(t, r, http.StatusOK, "executions "+query)
	var l resources.ExecutionList
	r.json(t, &l)
	return l
}

func contractListExecutions(t *testing.T, e *env) {
	e.checked()
	var runs []string
	for i := range 3 {
		runs = append(runs, e.chat(t, "alice", fmt.Sprintf(`{"message":"run %d"}`, i)).ExecutionID)
	}
	slices.Reverse(runs) // newest first
	l := e.executions(t, "alice", "")
	if l.TotalCount != 3 || len(l.Executions) != 3 || l.Executions[0].ID != runs[0] || l.Limit != 20 ||
		l.Executions[0].OwnerID != "alice" || l.Executions[0].Status != "completed" || l.Executions[0].TokensUsed == 0 {
		t.Fatalf("executions: %+v", l)
	}
	page := e.executions(t, "alice", "?limit=1&offset=1")
	if len(page.Executions) != 1 || page.Executions[0].ID != runs[1] || page.TotalCount != 3 || page.Offset != 1 {
		t.Errorf("limit=1&offset=1: %+v", page)
	}
	// chatter's own list is the same answer.
	mine := e.do(t, "GET", "alice", "/api/v1/executions?limit=1&offset=1", "")
	old := e.old(t, "GET", "alice", "/api/v1/workflows/executions?limit=1&offset=1", nil)
	if string(mine.body) != string(old.body) {
		t.Errorf("/executions and /workflows/executions differ:\n%s\n%s", mine.body, old.body)
	}
	if l := e.executions(t, "bob", ""); l.TotalCount != 0 || len(l.Executions) != 0 {
		t.Errorf("bob sees %+v", l)
	}
}

func contractDefinitionExecutions(t *testing.T, e *env) {
	e.checked()
	def := e.createDefinition(t, "alice")
	first := e.chat(t, "alice", `{"message":"a","workflow_definition_id":"`+def+`"}`)
	second := e.chat(t, "alice", `{"message":"b","workflow_definition_id":"`+def+`"}`)
	e.chat(t, "alice", `{"message":"unrelated"}`)
	r := e.old(t, "GET", "alice", "/api/v1/workflows/definitions/"+def+"/executions", nil)
	want(t, r, http.StatusOK, "definition executions")
	var l []wire.Execution
	r.json(t, &l)
	if len(l) != 2 || l[0].ID != second.ExecutionID || l[1].ID != first.ExecutionID || l[0].DefinitionID != def ||
		l[0].ExecutionLog != nil || r.Header.Get("X-Total-Count") != "2" {
		t.Fatalf("definition executions: %s", r.body)
	}
	if r := e.old(t, "GET", "bob", "/api/v1/workflows/definitions/"+def+"/executions", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob: %d", r.StatusCode)
	}
}

func contractDefinitionExecution(t *testing.T, e *env) {
	e.checked()
	def := e.createDefinition(t, "alice")
	other := e.createDefinition(t, "alice")
	run := e.chat(t, "alice", `{"message":"hi","workflow_definition_id":"`+def+`"}`)
	path := "/api/v1/workflows/definitions/" + def + "/executions/" + run.ExecutionID
	r := e.old(t, "GET", "alice", path, nil)
	want(t, r, http.StatusOK, "execution")
	var x wire.ExecutionDetail
	r.json(t, &x)
	if x.ID != run.ExecutionID || x.DefinitionID != def || x.OwnerID != "alice" || x.Status != "completed" ||
		x.OutputData.Response != run.Response || len(x.ExecutionLog) == 0 || len(x.Logs) != len(x.ExecutionLog)+2 ||
		x.ExecutionTimeMS == nil || x.CompletedAt == nil || x.TokensUsed != run.TokensUsed {
		t.Fatalf("execution detail: %s", r.body)
	}
	// chatter's own read is the same answer.
	if mine := e.get(t, "alice", "/api/v1/executions/"+run.ExecutionID); string(mine.body) != string(r.body) {
		t.Errorf("/executions/{id} differs:\n%s\n%s", mine.body, r.body)
	}
	for _, p := range []string{"/api/v1/workflows/definitions/" + other + "/executions/" + run.ExecutionID,
		"/api/v1/workflows/definitions/" + def + "/executions/nope"} {
		if r := e.old(t, "GET", "alice", p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.StatusCode)
		}
	}
	if r := e.old(t, "GET", "bob", path, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob: %d", r.StatusCode)
	}
}

func contractExecutionLogs(t *testing.T, e *env) {
	e.checked()
	def := e.createDefinition(t, "alice")
	run := e.chat(t, "alice", `{"message":"hi","workflow_definition_id":"`+def+`"}`)
	path := "/api/v1/workflows/definitions/" + def + "/executions/" + run.ExecutionID + "/logs"
	r := e.old(t, "GET", "alice", path, nil)
	want(t, r, http.StatusOK, "logs")
	var logs []wire.LogEntry
	r.json(t, &logs)
	if len(logs) < 3 || !strings.HasPrefix(logs[0].Message, "execution started") ||
		logs[len(logs)-1].Message != "execution completed" || logs[1].NodeID == nil || logs[1].ExecutionTimeMS == nil {
		t.Fatalf("logs: %s", r.body)
	}
	r = e.old(t, "GET", "alice", path+"?log_level=info&limit=2", nil)
	want(t, r, http.StatusOK, "logs full")
	var two []wire.LogEntry
	r.json(t, &two)
	if len(two) != 2 || two[0].Level != "info" || two[1].Message != logs[1].Message {
		t.Errorf("log_level=info&limit=2: %s", r.body)
	}
	r = e.old(t, "GET", "alice", path+"?log_level=error", nil)
	if r.StatusCode != 200 || string(r.body) != "[]\n" {
		t.Errorf("no errors in a completed run: %s", r.body)
	}
	if r := e.old(t, "GET", "bob", path, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob: %d", r.StatusCode)
	}
}

func contractAnalytics(t *testing.T, e *env) {
	e.checked()
	def := e.createDefinition(t, "alice")
	r := e.old(t, "GET", "alice", "/api/v1/workflows/definitions/"+def+"/analytics", nil)
	want(t, r, http.StatusOK, "analytics")
	var a resources.AnalyticsResponse
	r.json(t, &a)
	if a.Complexity.NodeCount != 3 || a.Complexity.EdgeCount != 2 || a.Complexity.Score != 1 || a.ExecutionPaths != 1 ||
		len(a.Bottlenecks) != 1 || a.Bottlenecks[0].NodeID != "llm" || len(a.RiskFactors) != 0 || a.DefinitionID != def {
		t.Fatalf("analytics: %s", r.body)
	}
	if r := e.old(t, "GET", "bob", "/api/v1/workflows/definitions/"+def+"/analytics", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("bob: %d", r.StatusCode)
	}
}

// The same cases on the DynamoDB store on moto: the old shapes, filters, counts,
// offsets and message changes hold on the real store too.
func TestDynamo_OldConversationAndExecutionOperations(t *testing.T) {
	for _, c := range conversationCases {
		t.Run(c.op, func(t *testing.T) {
			c.run(t, newEnv(t, envOpts{st: dynamoStore(t), noCheck: true}))
		})
	}
}
