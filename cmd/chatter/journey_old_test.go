package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
)

// oldClient is the predecessor's frontend talking to chatter: untyped JSON, request
// bodies the old request schemas allow (checked, so the journey cannot send what
// the old clients never sent) and every 2xx answer validated against the old
// contract itself (apitest.Old).
type oldClient struct {
	t     *testing.T
	base  string
	token string
}

type jobj = map[string]any

// send does one exchange; it fails the test unless the status is want.
func (c oldClient) send(method, path string, body any, want int) (jobj, []byte) {
	c.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	old := apitest.Old(c.t)
	old.Request(c.t, req, raw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b.Bytes())
	}
	old.Response(c.t, req, raw, resp.StatusCode, resp.Header, b.Bytes())
	var out jobj
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && b.Len() > 0 && b.Bytes()[0] == '{' {
		if err := json.Unmarshal(b.Bytes(), &out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return out, b.Bytes()
}

// oldEditorDefinition is a graph as the old editor saves it: React Flow nodes whose
// data carries nodeType and camelCase config keys.
const oldEditorDefinition = `{
  "name": "old editor assistant",
  "description": "saved by the predecessor's editor",
  "nodes": [
    {"id": "start-1", "type": "start", "position": {"x": 50, "y": 50},
     "data": {"label": "Start", "nodeType": "start", "config": {"isEntryPoint": true}}},
    {"id": "model-1", "type": "model", "position": {"x": 250, "y": 50},
     "data": {"label": "Model", "nodeType": "model",
              "config": {"systemMessage": "You are terse.", "temperature": 0.3, "maxTokens": 300}}},
    {"id": "var-1", "type": "variable", "position": {"x": 450, "y": 50},
     "data": {"label": "Count", "nodeType": "variable", "config": {"operation": "increment", "variableName": "turns"}}}
  ],
  "edges": [
    {"id": "e1", "source": "start-1", "target": "model-1", "type": "custom"},
    {"id": "e2", "source": "model-1", "target": "var-1", "type": "custom"}
  ],
  "metadata": {"editor": "v1"},
  "is_public": false,
  "tags": ["journey"]
}`

// oldFrontendJourney replays the predecessor frontend's flows against a running
// chatter dev: the chat page (create a conversation, chat with the body the old UI
// always sends, stream it and parse the old chunks, list, open, rate, delete a
// message, rename, delete) and the workflow editor (defaults, save, validate,
// execute, executions and their logs, templates). other is another user's token:
// nothing of the first user's is visible to them.
func oldFrontendJourney(t *testing.T, base, token, otherToken string) {
	c := oldClient{t: t, base: base, token: token}
	other := oldClient{t: t, base: base, token: otherToken}

	// Chat page.
	conv, _ := c.send("POST", "/api/v1/conversations/", jobj{"title": "Old UI chat",
		"system_prompt": "Be brief.", "enable_retrieval": false, "temperature": 0.4, "max_tokens": 256,
		"workflow_config": jobj{"layout": "wide"}, "extra_metadata": jobj{"source": "old-ui"}}, 201)
	convID, _ := conv["id"].(string)
	if convID == "" || conv["title"] != "Old UI chat" || conv["message_count"] != 0.0 {
		t.Fatalf("created conversation %v", conv)
	}
	chatBody := func(msg string) jobj {
		return jobj{"message": msg, "conversation_id": convID, "profile_id": nil, "workflow_config": jobj{},
			"workflow_definition_id": nil, "workflow_template_name": nil, "enable_retrieval": false,
			"enable_tools": false, "enable_memory": true, "enable_web_search": false, "provider": nil, "model": nil,
			"temperature": 0.7, "max_tokens": 512, "context_limit": nil, "document_ids": nil, "prompt_id": nil,
			"system_prompt_override": nil, "enable_tracing": false}
	}
	chat, _ := c.send("POST", "/api/v1/workflows/execute/chat", chatBody("hello from the old UI"), 200)
	msg, _ := chat["message"].(jobj)
	cv, _ := chat["conversation"].(jobj)
	if chat["conversation_id"] != convID || msg["role"] != "assistant" || !strings.Contains(msg["content"].(string), "hello from the old UI") ||
		cv["id"] != convID || cv["message_count"] != 2.0 {
		t.Fatalf("old chat answer %v", chat)
	}

	// The streaming chat, parsed as the old frontend parses it: data lines of JSON
	// switched on type, token contents joined, the end chunk's token totals, then
	// [DONE].
	_, raw := c.send("POST", "/api/v1/workflows/execute/chat/streaming", chatBody("and now streamed"), 200)
	var text strings.Builder
	var last jobj
	var sawComplete bool
	frames := apitest.SSEData(raw)
	for _, d := range frames {
		var ch jobj
		if err := json.Unmarshal([]byte(d), &ch); err != nil {
			t.Fatalf("chunk %q: %v", d, err)
		}
		switch ch["type"] {
		case "token":
			text.WriteString(ch["content"].(string))
		case "complete":
			sawComplete = true
			md, _ := ch["metadata"].(jobj)
			if md["total_tokens"] == nil || md["total_tokens"] == 0.0 || ch["conversation_id"] != convID || ch["message_id"] == nil {
				t.Errorf("complete chunk without totals or ids: %s", d)
			}
		case "error":
			t.Fatalf("error chunk: %s", d)
		}
		last = ch
	}
	u, _ := last["usage"].(jobj)
	if !sawComplete || !strings.Contains(text.String(), "and now streamed") || u["prompt_tokens"] == nil ||
		u["completion_tokens"] == nil || !strings.HasSuffix(strings.TrimSpace(string(raw)), "data: [DONE]") {
		t.Fatalf("old stream: complete=%v text %q last %v", sawComplete, text.String(), last)
	}

	list, _ := c.send("GET", "/api/v1/conversations/?limit=10&offset=0&sort_by=updated_at&sort_order=desc", nil, 200)
	if !listHas(list["conversations"], convID) || list["total_count"] == nil {
		t.Errorf("conversation list %v lacks %s", list, convID)
	}
	if l, _ := other.send("GET", "/api/v1/conversations/", nil, 200); listHas(l["conversations"], convID) || l["total_count"] != 0.0 {
		t.Errorf("another user lists %v", l)
	}
	open, _ := c.send("GET", "/api/v1/conversations/"+convID+"?include_messages=true", nil, 200)
	msgs, _ := open["messages"].([]any)
	if len(msgs) != 4 {
		t.Fatalf("conversation with messages: %d messages, want 4: %v", len(msgs), open)
	}
	reply := msgs[1].(jobj)
	replyID := reply["id"].(string)
	rated, _ := c.send("PATCH", "/api/v1/conversations/"+convID+"/messages/"+replyID+"/rating", jobj{"rating": 4.5}, 200)
	if rated["rating"] != 4.5 {
		t.Errorf("rating answer %v", rated)
	}
	_, b := c.send("GET", "/api/v1/conversations/"+convID+"/messages?limit=2&offset=1", nil, 200)
	var page []jobj // the old contract answers a bare array
	if err := json.Unmarshal(b, &page); err != nil || len(page) != 2 || page[0]["id"] != replyID || page[0]["rating"] != 4.5 {
		t.Errorf("messages page at offset 1: %s", b)
	}
	c.send("DELETE", "/api/v1/conversations/"+convID+"/messages/"+msgs[3].(jobj)["id"].(string), nil, 200)
	upd, _ := c.send("PUT", "/api/v1/conversations/"+convID, jobj{"status": "archived", "temperature": 0.2,
		"extra_metadata": jobj{"pinned": true}}, 200)
	if upd["status"] != "archived" || upd["message_count"] != 3.0 {
		t.Errorf("updated conversation %v, want archived with 3 messages", upd)
	}

	// Workflow editor.
	defaults, _ := c.send("GET", "/api/v1/workflows/defaults", nil, 200)
	if nt, _ := defaults["node_types"].(jobj); nt["model"] == nil {
		t.Errorf("defaults lack node_types.model: %v", defaults)
	}
	c.send("GET", "/api/v1/workflows/node-types/modern", nil, 200)
	var def jobj
	if err := json.Unmarshal([]byte(oldEditorDefinition), &def); err != nil {
		t.Fatal(err)
	}
	v, _ := c.send("POST", "/api/v1/workflows/definitions/validate", def, 200)
	if v["is_valid"] != true {
		t.Fatalf("the old editor's graph does not validate: %v", v)
	}
	saved, _ := c.send("POST", "/api/v1/workflows/definitions", def, 200)
	defID, _ := saved["id"].(string)
	if defID == "" || saved["name"] != "old editor assistant" {
		t.Fatalf("saved definition %v", saved)
	}
	defs, _ := c.send("GET", "/api/v1/workflows/definitions", nil, 200)
	if !listHas(defs["definitions"], defID) {
		t.Errorf("definitions list %v lacks %s", defs, defID)
	}
	run, _ := c.send("POST", "/api/v1/workflows/definitions/"+defID+"/execute",
		jobj{"definition_id": defID, "input_data": jobj{"message": "run the old graph"}, "debug_mode": true}, 200)
	runID, _ := run["id"].(string)
	out, _ := run["output_data"].(jobj)
	vars, _ := out["variables"].(jobj)
	if run["status"] != "completed" || run["definition_id"] != defID || runID == "" || vars["turns"] != 1.0 {
		t.Fatalf("old execute answer %v", run)
	}
	execs, _ := c.send("GET", "/api/v1/workflows/executions?limit=50&offset=0", nil, 200)
	if !listHas(execs["executions"], runID) {
		t.Errorf("executions %v lack %s", execs, runID)
	}
	c.send("GET", "/api/v1/workflows/definitions/"+defID+"/executions", nil, 200)
	det, _ := c.send("GET", "/api/v1/workflows/definitions/"+defID+"/executions/"+runID, nil, 200)
	if det["id"] != runID || det["status"] != "completed" {
		t.Errorf("execution detail %v", det)
	}
	c.send("GET", "/api/v1/workflows/definitions/"+defID+"/executions/"+runID+"/logs?limit=100", nil, 200)
	other.send("GET", "/api/v1/workflows/definitions/"+defID+"/executions/"+runID, nil, 404)

	tpls, _ := c.send("GET", "/api/v1/workflows/templates", nil, 200)
	if !listHas(tpls["templates"], "general_chat") {
		t.Errorf("templates %v lack general_chat", tpls)
	}
	c.send("GET", "/api/v1/workflows/templates/general_chat/load", nil, 200)
	tr, _ := c.send("POST", "/api/v1/workflows/templates/general_chat/execute",
		jobj{"input_data": jobj{"message": "a template run"}, "debug_mode": false}, 200)
	if tr["status"] != "completed" {
		t.Errorf("template execute %v", tr)
	}

	// Clean up as the old UI does: each delete answers 200 with its message.
	if d, _ := c.send("DELETE", "/api/v1/workflows/definitions/"+url.PathEscape(defID), nil, 200); d["message"] == nil {
		t.Errorf("definition delete answer %v", d)
	}
	other.send("DELETE", "/api/v1/conversations/"+convID, nil, 404)
	if d, _ := c.send("DELETE", "/api/v1/conversations/"+convID, nil, 200); d["message"] == nil {
		t.Errorf("conversation delete answer %v", d)
	}
	c.send("GET", "/api/v1/conversations/"+convID, nil, 404)
}

// listHas reports whether a decoded JSON list holds an object with id.
func listHas(list any, id string) bool {
	items, _ := list.([]any)
	for _, x := range items {
		if o, ok := x.(jobj); ok && o["id"] == id {
			return true
		}
	}
	return false
}
