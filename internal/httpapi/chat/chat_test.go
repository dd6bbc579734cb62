package chat_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestChat_StandardReturnsChatResponseAndStoresTurn(t *testing.T) {
	e := newEnv(t, envOpts{})
	resp, b := e.post(t, "alice", "/api/v1/workflows/execute/chat", `{"message":"hello there","temperature":0.2}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var cr wire.ChatResponse
	if err := json.Unmarshal(b, &cr); err != nil {
		t.Fatal(err)
	}
	if cr.Response != "You said: hello there." || cr.Status != "completed" || cr.WorkflowType != "universal_chat" ||
		cr.ConversationID == "" || cr.ExecutionID == "" || cr.TokensUsed == 0 {
		t.Fatalf("response = %+v", cr)
	}
	msgs, err := e.st.Messages(context.Background(), "alice", cr.ConversationID)
	if err != nil || len(msgs) != 2 || msgs[0].Content != "hello there" || msgs[1].ID != cr.MessageID {
		t.Fatalf("stored %+v %v", msgs, err)
	}
}

func TestChat_SourceFollowsTemplateOrDefinitionField(t *testing.T) {
	e := newEnv(t, envOpts{})
	def := &store.Definition{ID: "d1", UserID: "alice", Graph: chainDefinition()}
	if err := e.st.CreateDefinition(context.Background(), def); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ body, wantType string }{
		{`{"message":"hi"}`, "universal_chat"},
		{`{"message":"hi","workflow_template_name":"code_assistant"}`, "code_assistant"},
		{`{"message":"hi","workflow_definition_id":"d1"}`, "chain"},
	}
	for _, c := range cases {
		resp, b := e.post(t, "alice", "/api/v1/workflows/execute/chat", c.body)
		var cr wire.ChatResponse
		_ = json.Unmarshal(b, &cr)
		if resp.StatusCode != 200 || cr.WorkflowType != c.wantType {
			t.Errorf("%s: %d %s", c.body, resp.StatusCode, b)
		}
	}
}

func TestChat_BadRequestsAreProblemsNamingTheField(t *testing.T) {
	e := newEnv(t, envOpts{})
	cases := []struct {
		name, body string
		status     int
		code       string
		field      string
	}{
		{"no message", `{}`, 422, "invalid_input", "message"},
		{"unknown field", `{"message":"hi","temprature":1}`, 422, "invalid_input", "temprature"},
		{"wrong type", `{"message":"hi","max_tokens":"many"}`, 422, "invalid_input", "/max_tokens"},
		{"temperature out of range", `{"message":"hi","temperature":3}`, 422, "invalid_input", "temperature"},
		{"model name past any provider's", `{"message":"hi","model":"` + strings.Repeat("m", store.MaxNameBytes+1) + `"}`, 422, "invalid_input", "model"},
		{"both sources", `{"message":"hi","workflow_template_name":"a","workflow_definition_id":"b"}`, 422, "invalid_input", "workflow_definition_id"},
		{"conversation id no record could have", `{"message":"hi","conversation_id":"` + strings.Repeat("c", store.MaxIDLen+1) + `"}`, 422, "invalid_input", "conversation_id"},
		{"conversation id with a slash", `{"message":"hi","conversation_id":"a/b"}`, 422, "invalid_input", "conversation_id"},
		{"definition id past the key limit", `{"message":"hi","workflow_definition_id":"` + strings.Repeat("d", 2000) + `"}`, 422, "invalid_input", "definition_id"},
		{"template name past the name limit", `{"message":"hi","workflow_template_name":"` + strings.Repeat("t", store.MaxNameBytes+1) + `"}`, 422, "invalid_input", "template"},
		{"too many document ids", `{"message":"hi","document_ids":["` + strings.Repeat(`d","`, store.MaxDocumentIDs) + `d"]}`, 422, "invalid_input", "document_ids"},
		{"a document id no record could have", `{"message":"hi","document_ids":["ok","no such/thing"]}`, 422, "invalid_input", "/document_ids/1"},
		{"unknown provider", `{"message":"hi","provider":"nope"}`, 400, "unknown_provider", "provider"},
		{"unconfigured provider", `{"message":"hi","provider":"openai"}`, 400, "provider_unconfigured", "provider"},
		{"unknown tool", `{"message":"hi","allowed_tools":["laser"]}`, 400, "unknown_tool", "allowed_tools"},
		{"unknown template", `{"message":"hi","workflow_template_name":"nope"}`, 404, "not_found", "template"},
		{"unknown definition", `{"message":"hi","workflow_definition_id":"nope"}`, 404, "not_found", "definition"},
		{"message over the cap", `{"message":"` + strings.Repeat("a", store.DefaultMaxContentBytes+1) + `"}`, 413, "too_large", "message"},
		{"metadata over its budget", `{"message":"hi","metadata":{"html":"` + strings.Repeat("<", store.MaxMetadataBytes) + `"}}`, 413, "too_large", "metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := e.post(t, "alice", "/api/v1/workflows/execute/chat", c.body)
			p := decodeProblem(t, resp, b)
			if resp.StatusCode != c.status || p.Code != c.code || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Errorf("%d %s", resp.StatusCode, b)
			}
		})
	}
}

func TestChat_OtherUsersConversationIsNotFound(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, b := e.post(t, "alice", "/api/v1/workflows/execute/chat", `{"message":"secret plan"}`)
	var cr wire.ChatResponse
	_ = json.Unmarshal(b, &cr)
	body := `{"message":"what was the plan?","conversation_id":"` + cr.ConversationID + `"}`
	for _, path := range []string{"/api/v1/workflows/execute/chat", "/api/v1/workflows/execute/chat/streaming"} {
		resp, b := e.post(t, "bob", path, body)
		p := decodeProblem(t, resp, b)
		if resp.StatusCode != 404 || p.Code != "not_found" || strings.Contains(string(b), "secret") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
	msgs, _ := e.st.Messages(context.Background(), "alice", cr.ConversationID)
	if len(msgs) != 2 {
		t.Errorf("alice's conversation changed: %d messages", len(msgs))
	}
}

func TestChat_RuntimeFailureInStandardModeNamesTheExecution(t *testing.T) {
	e := newEnv(t, envOpts{})
	resp, b := e.post(t, "alice", "/api/v1/workflows/execute/chat", `{"message":"/fail auth"}`)
	p := decodeProblem(t, resp, b)
	if resp.StatusCode != 502 || p.Code != "llm_error" || p.ExecutionID == "" || p.ConversationID == "" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	msgs, _ := e.st.Messages(context.Background(), "alice", p.ConversationID)
	if len(msgs) != 1 || msgs[0].Content != "/fail auth" {
		t.Errorf("the user message was not kept: %+v", msgs)
	}
}

func TestStream_FramesCarrySeqTypeAndEndWithDone(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, path := range []string{"/api/v1/workflows/execute/chat/streaming", "/api/v1/workflows/execute/chat?stream=true"} {
		resp, err := http.DefaultClient.Do(e.request(t, "alice", path, `{"message":"one two three"}`))
		if err != nil {
			t.Fatal(err)
		}
		fs := newFrames(resp.Body).all()
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
		types := eventTypes(fs)
		if types[0] != "start" || !slices.Equal(types[len(types)-4:], []string{"usage", "complete", "done", "[DONE]"}) {
			t.Fatalf("%s: types %v", path, types)
		}
		var text strings.Builder
		for i, f := range fs[:len(fs)-1] {
			if f.ID != strconvI(i+1) || f.Chunk.Type != f.Event {
				t.Errorf("frame %d: id %q event %q data type %q", i, f.ID, f.Event, f.Chunk.Type)
			}
			if f.Event == "token" {
				text.WriteString(f.Chunk.Content)
			}
		}
		if text.String() != "You said: one two three." {
			t.Errorf("tokens = %q", text.String())
		}
	}
}

func strconvI(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestStream_TokensReachTheClientBeforeTheRunEnds(t *testing.T) {
	e := newEnv(t, envOpts{delay: time.Millisecond})
	firstToken := make(chan struct{})
	seenBeforeFinish := make(chan bool, 1)
	// The run's last write waits until the client has read a token frame: if frames
	// were buffered until the end, the client could not read one and this would
	// report false after the guard timeout.
	e.st.beforeFinish = func(store.FinishTurn) {
		select {
		case <-firstToken:
			seenBeforeFinish <- true
		case <-time.After(5 * time.Second):
			seenBeforeFinish <- false
		}
	}
	resp, err := http.DefaultClient.Do(e.request(t, "alice", "/api/v1/workflows/execute/chat/streaming", `{"message":"a b c d e f"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	f := newFrames(resp.Body)
	var types []string
	for {
		fr, ok := f.next()
		if !ok {
			break
		}
		if fr.Event == "token" && len(types) > 0 && !slices.Contains(types, "token") {
			close(firstToken)
		}
		types = append(types, eventTypes([]sseFrame{fr})...)
	}
	if !<-seenBeforeFinish {
		t.Fatal("the first token frame was not readable before the run finished")
	}
	if types[len(types)-1] != "[DONE]" {
		t.Errorf("types %v", types)
	}
}

func TestStream_HeartbeatWhileTheModelIsSlow(t *testing.T) {
	e := newEnv(t, envOpts{delay: 30 * time.Millisecond, heartbeat: 5 * time.Millisecond})
	_, b := e.post(t, "alice", "/api/v1/workflows/execute/chat/streaming", `{"message":"slow words here"}`)
	if !strings.Contains(string(b), "\n: ping\n\n") && !strings.HasPrefix(string(b), ": ping\n\n") {
		t.Fatalf("no ping in %s", b)
	}
	if !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Errorf("stream does not end with [DONE]")
	}
}

func TestStream_ClientDisconnectCancelsTheRunWithinASecond(t *testing.T) {
	e := newEnv(t, envOpts{delay: 20 * time.Millisecond})
	finished := make(chan store.FinishTurn, 1)
	e.st.beforeFinish = func(ft store.FinishTurn) { finished <- ft }
	words := strings.Repeat("word ", 200)
	resp, err := http.DefaultClient.Do(e.request(t, "alice", "/api/v1/workflows/execute/chat/streaming", `{"message":"`+words+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	f := newFrames(resp.Body)
	var convID string
	tokens := 0
	for tokens < 2 {
		fr, ok := f.next()
		if !ok {
			t.Fatal("stream ended early")
		}
		if fr.Event == "start" {
			convID = fr.Chunk.ConversationID
		}
		if fr.Event == "token" {
			tokens++
		}
	}
	resp.Body.Close() // closes the TCP connection mid-stream
	var ft store.FinishTurn
	select {
	case ft = <-finished:
	case <-time.After(time.Second):
		t.Fatal("the run did not end within 1 s of the disconnect")
	}
	if ft.Execution.Status != store.ExecCancelled {
		t.Errorf("execution status = %q (%s)", ft.Execution.Status, ft.Execution.ErrorCode)
	}
	if ft.AssistantMessage == nil || ft.AssistantMessage.Status != store.StatusIncomplete || ft.AssistantMessage.Content == "" {
		t.Fatalf("partial reply = %+v", ft.AssistantMessage)
	}
	// FinishTurn has been called; wait for its write before reading the store.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		msgs, _ := e.st.Messages(context.Background(), "alice", convID)
		if len(msgs) == 2 {
			if msgs[1].Status != store.StatusIncomplete {
				t.Errorf("stored reply status %q", msgs[1].Status)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("partial reply not stored")
}

func TestStream_MidStreamProviderErrorSendsErrorFrameThenDone(t *testing.T) {
	e := newEnv(t, envOpts{})
	resp, err := http.DefaultClient.Do(e.request(t, "alice", "/api/v1/workflows/execute/chat/streaming", `{"message":"/break please now"}`))
	if err != nil {
		t.Fatal(err)
	}
	fs := newFrames(resp.Body).all()
	resp.Body.Close()
	types := eventTypes(fs)
	if resp.StatusCode != 200 || !slices.Contains(types, "token") ||
		!slices.Equal(types[len(types)-3:], []string{"error", "done", "[DONE]"}) {
		t.Fatalf("%d %v", resp.StatusCode, types)
	}
	errFrame := fs[len(fs)-3].Chunk
	if errFrame.Error == nil || errFrame.Error.Code != "llm_error" {
		t.Errorf("error frame = %+v", errFrame)
	}
}

func TestStream_PreparationErrorIsAProblemNotAStream(t *testing.T) {
	e := newEnv(t, envOpts{})
	resp, b := e.post(t, "alice", "/api/v1/workflows/execute/chat/streaming", `{"message":"hi","provider":"nope"}`)
	p := decodeProblem(t, resp, b)
	if resp.StatusCode != 400 || p.Code != "unknown_provider" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// chainDefinition is start -> llm -> end, named "chain".
func chainDefinition() workflow.Definition {
	return workflow.Definition{Name: "chain", Nodes: []workflow.Node{
		{ID: "start", Type: "start"}, {ID: "llm", Type: "llm"}, {ID: "end", Type: "end"},
	}, Edges: []workflow.Edge{{ID: "e1", Source: "start", Target: "llm"}, {ID: "e2", Source: "llm", Target: "end"}}}
}

const inlineGraph = `"nodes":[{"id":"start","type":"start","position":{"x":0,"y":0},"selected":true},
	{"id":"llm","type":"custom","data":{"label":"Model","nodeType":"llm"}},{"id":"end","type":"end"}],
	"edges":[{"id":"e1","source":"start","target":"llm"},{"id":"e2","source":"llm","target":"end"}]`

func TestExecute_RoutesRunEverySource(t *testing.T) {
	e := newEnv(t, envOpts{})
	if err := e.st.CreateDefinition(context.Background(), &store.Definition{ID: "d1", UserID: "alice", Graph: chainDefinition()}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, body string
		kind, srcName    string
	}{
		{"builtin template", "/api/v1/workflows/templates/general_chat/execute", `{"message":"hi","params":{"max_tokens":50}}`, "template", "general_chat"},
		{"inline template", "/api/v1/workflows/templates/execute",
			`{"message":"hi","template":{"name":"mine","capabilities":{"memory":true},"params":{"system_prompt":"be brief"}}}`, "inline", "mine"},
		{"definition by input_data", "/api/v1/workflows/definitions/d1/execute", `{"input_data":{"message":"hi","lang":"en"}}`, "definition", "chain"},
		{"definition by message", "/api/v1/workflows/definitions/d1/execute", `{"message":"hi","version":1}`, "definition", "chain"},
		{"custom is not an id", "/api/v1/workflows/definitions/custom/execute", `{"message":"hi","name":"adhoc",` + inlineGraph + `}`, "inline", "adhoc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := e.post(t, "alice", c.path, c.body)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			var wr wire.Execution
			if err := json.Unmarshal(b, &wr); err != nil {
				t.Fatal(err)
			}
			if wr.Status != "completed" || wr.OutputData.Response != "You said: hi." || wr.Source.Kind != c.kind || wr.Source.Name != c.srcName {
				t.Errorf("response = %s", b)
			}
			// The same route streams when asked to.
			resp, err := http.DefaultClient.Do(e.request(t, "alice", c.path, c.body, "Accept", "text/event-stream"))
			if err != nil {
				t.Fatal(err)
			}
			types := eventTypes(newFrames(resp.Body).all())
			resp.Body.Close()
			if resp.Header.Get("Content-Type") != "text/event-stream" || types[len(types)-1] != "[DONE]" {
				t.Errorf("stream: %v %v", resp.Header, types)
			}
		})
	}
}

func TestExecute_BadRequestsNameTheField(t *testing.T) {
	e := newEnv(t, envOpts{})
	cases := []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"graph on a template route", "/api/v1/workflows/templates/general_chat/execute", `{"message":"hi",` + inlineGraph + `}`, 422, "nodes"},
		{"params on a definition route", "/api/v1/workflows/definitions/d1/execute", `{"message":"hi","params":{}}`, 422, "params"},
		{"message type in input_data", "/api/v1/workflows/definitions/d1/execute", `{"input_data":{"message":5}}`, 422, "/input_data/message"},
		{"messages differ", "/api/v1/workflows/definitions/d1/execute", `{"message":"a","input_data":{"message":"b"}}`, 422, "/input_data/message"},
		{"no inline template", "/api/v1/workflows/templates/execute", `{"message":"hi"}`, 422, "template"},
		{"no nodes", "/api/v1/workflows/definitions/custom/execute", `{"message":"hi"}`, 422, "nodes"},
		{"invalid graph", "/api/v1/workflows/definitions/custom/execute",
			`{"message":"hi","nodes":[{"id":"start","type":"start"},{"id":"x","type":"warp"}],"edges":[{"source":"start","target":"x"}]}`, 400, "/nodes/1/type"},
		{"other user's definition", "/api/v1/workflows/definitions/d1/execute", `{"message":"hi"}`, 404, "definition"},
	}
	if err := e.st.CreateDefinition(context.Background(), &store.Definition{ID: "d1", UserID: "carol", Graph: chainDefinition()}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := e.post(t, "alice", c.path, c.body)
			p := decodeProblem(t, resp, b)
			if resp.StatusCode != c.status || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Errorf("%d %s", resp.StatusCode, b)
			}
		})
	}
}

func TestRegister_ChatAndStreamHaveSeparateRateClasses(t *testing.T) {
	one := httpcore.Rate{Limit: 1, Window: time.Minute}
	e := newEnv(t, envOpts{limiter: store.NewMemory(), rates: map[httpcore.Class]httpcore.Rate{httpcore.ClassChat: one, httpcore.ClassStream: one}})
	steps := []struct {
		path   string
		status int
	}{
		{"/api/v1/workflows/execute/chat", 200},
		{"/api/v1/workflows/templates/general_chat/execute", 429}, // chat class, used up
		{"/api/v1/workflows/execute/chat/streaming", 200},
		{"/api/v1/workflows/templates/general_chat/execute?stream=true", 429}, // stream class, used up
	}
	for _, s := range steps {
		resp, b := e.post(t, "alice", s.path, `{"message":"hi"}`)
		if resp.StatusCode != s.status || resp.Header.Get("RateLimit-Limit") != "1" {
			t.Errorf("%s: %d %v %s", s.path, resp.StatusCode, resp.Header, b)
		}
	}
}
