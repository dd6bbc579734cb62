package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
	"github.com/chatterhq/chatter/internal/httpapi/openaiapi"
	"github.com/chatterhq/chatter/internal/wire"
)

// oaiStack is a dev stack with an official OpenAI client pointed at its /v1.
type oaiStack struct {
	s     *stack
	token string
	c     openai.Client
}

func newOAIStack(t *testing.T, ctx context.Context, user string) *oaiStack {
	t.Helper()
	s := devStackForTest(t, ctx)
	tok, err := s.Identity.Token(user)
	if err != nil {
		t.Fatal(err)
	}
	return &oaiStack{s: s, token: tok, c: openai.NewClient(option.WithBaseURL(s.URL+"/v1/"), option.WithAPIKey(tok),
		option.WithMaxRetries(0))}
}

// get reads a chatter route as JSON.
func (o *oaiStack) get(t *testing.T, ctx context.Context, path string, out any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+o.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// post sends body to a chatter route and checks the answer against the OpenAPI
// document; it returns the status, headers and body.
func (o *oaiStack) post(t *testing.T, ctx context.Context, path, token string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, o.s.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	apitest.Ours(t).Response(t, req, body, resp.StatusCode, resp.Header, b)
	return resp.StatusCode, resp.Header, b
}

type executionUsage struct {
	ConversationID string `json:"conversation_id"`
	Status         string `json:"status"`
	Usage          struct {
		InputTokens     int `json:"input_tokens"`
		OutputTokens    int `json:"output_tokens"`
		TotalTokens     int `json:"total_tokens"`
		CacheReadTokens int `json:"cache_read_tokens"`
	} `json:"usage"`
	ToolCalls int `json:"tool_calls"`
}

// sameUsage checks an OpenAI usage against the execution record's.
func sameUsage(t *testing.T, what string, u openai.CompletionUsage, e executionUsage) {
	t.Helper()
	if e.Usage.TotalTokens == 0 || u.TotalTokens != int64(e.Usage.TotalTokens) ||
		u.PromptTokens != int64(e.Usage.InputTokens+e.Usage.CacheReadTokens) ||
		u.CompletionTokens != int64(e.Usage.OutputTokens) ||
		u.PromptTokensDetails.CachedTokens != int64(e.Usage.CacheReadTokens) {
		t.Errorf("%s: usage %+v, execution's %+v", what, u, e.Usage)
	}
}

func TestOpenAI_ModelsListsWhatTheUserCanRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := newOAIStack(t, ctx, "oai-models")
	def := createToolDefinition(t, ctx, o)

	page, err := o.c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, m := range page.Data {
		owners[m.ID] = m.OwnedBy
		if m.Object != "model" {
			t.Errorf("model %s object %q", m.ID, m.Object)
		}
	}
	for id, owner := range map[string]string{"template/general_chat": "chatter", "template/universal_chat": "chatter",
		"definition/" + def: "user", "devllm": "devllm"} {
		if owners[id] != owner {
			t.Errorf("models list: %s owned by %q, want %q (list %v)", id, owners[id], owner, owners)
		}
	}

	other := newClientFor(t, o, "oai-someone-else")
	page, err = other.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Data {
		if m.ID == "definition/"+def {
			t.Errorf("another user's list shows %s", m.ID)
		}
	}
}

func newClientFor(t *testing.T, o *oaiStack, user string) openai.Client {
	t.Helper()
	tok, err := o.s.Identity.Token(user)
	if err != nil {
		t.Fatal(err)
	}
	return openai.NewClient(option.WithBaseURL(o.s.URL+"/v1/"), option.WithAPIKey(tok), option.WithMaxRetries(0))
}

func createToolDefinition(t *testing.T, ctx context.Context, o *oaiStack) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, o.s.URL+"/api/v1/workflows/definitions",
		strings.NewReader(toolDefinition))
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var def struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&def); err != nil || resp.StatusCode != 200 || def.ID == "" {
		t.Fatalf("creating the definition: %d %v %+v", resp.StatusCode, err, def)
	}
	return def.ID
}

func TestOpenAI_StandardCompletionIsARunWithTheExecutionsUsage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := newOAIStack(t, ctx, "oai-standard")

	var resp *http.Response
	got, err := o.c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "template/general_chat",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")},
		Temperature: openai.Float(0.2), MaxCompletionTokens: openai.Int(200)}, option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	execID, convID := resp.Header.Get(openaiapi.HeaderExecutionID), resp.Header.Get(openaiapi.HeaderConversationID)
	if execID == "" || convID == "" {
		t.Fatalf("headers name no run: %v", resp.Header)
	}
	if got.ID != "chatcmpl-"+execID || got.Object != "chat.completion" || got.Model != "template/general_chat" ||
		got.Created == 0 || len(got.Choices) != 1 {
		t.Fatalf("completion %+v", got)
	}
	ch := got.Choices[0]
	if ch.Message.Role != "assistant" || ch.Message.Content != "You said: hello there." || ch.FinishReason != "stop" {
		t.Errorf("choice %+v", ch)
	}
	var rec executionUsage
	o.get(t, ctx, "/api/v1/executions/"+execID, &rec)
	if rec.Status != "completed" || rec.ConversationID != convID {
		t.Errorf("execution %+v", rec)
	}
	sameUsage(t, "standard", got.Usage, rec)

	// Earlier messages are the history of a new conversation: the model sees them
	// (more prompt tokens), the reply answers the last one, and they are not stored.
	got2, err := o.c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "devllm",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."),
			openai.UserMessage("hello there"), openai.AssistantMessage("You said: hello there."),
			openai.UserMessage("and again")}}, option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got2.Choices[0].Message.Content != "You said: and again." || got2.Usage.PromptTokens <= got.Usage.PromptTokens {
		t.Errorf("with history: %q, prompt tokens %d (without %d)", got2.Choices[0].Message.Content,
			got2.Usage.PromptTokens, got.Usage.PromptTokens)
	}
	var msgs []wire.Message
	o.get(t, ctx, "/api/v1/conversations/"+resp.Header.Get(openaiapi.HeaderConversationID)+"/messages", &msgs)
	if len(msgs) != 2 || msgs[0].Content != "and again" {
		t.Errorf("a new conversation with client-held history stored %+v, want this turn only", msgs)
	}

	// Continuing the first conversation by header: its stored messages are the
	// history, the request's earlier messages are ignored.
	_, err = o.c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "template/general_chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("ignored"), openai.UserMessage("second turn")}},
		option.WithHeader(openaiapi.HeaderConversationID, convID), option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get(openaiapi.HeaderConversationID) != convID {
		t.Errorf("continued conversation %q, want %s", resp.Header.Get(openaiapi.HeaderConversationID), convID)
	}
	o.get(t, ctx, "/api/v1/conversations/"+convID+"/messages", &msgs)
	if len(msgs) != 4 || msgs[2].Content != "second turn" {
		t.Errorf("continued conversation holds %+v", msgs)
	}

	// The raw answer matches the OpenAPI document's OpenAI shapes.
	status, _, body := o.post(t, ctx, "/v1/chat/completions", o.token,
		[]byte(`{"model":"devllm","messages":[{"role":"user","content":[{"type":"text","text":"parts"}]}],"user":"u1","metadata":{"k":"v"}}`))
	if status != 200 || !bytes.Contains(body, []byte(`"You said: parts."`)) {
		t.Errorf("raw completion %d %s", status, body)
	}
}

func TestOpenAI_StreamingCompletionWithUsageChunk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := newOAIStack(t, ctx, "oai-stream")

	var resp *http.Response
	s := o.c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "template/general_chat",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream me a reply")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}},
		option.WithResponseInto(&resp))
	var acc openai.ChatCompletionAccumulator
	var chunks []openai.ChatCompletionChunk
	for s.Next() {
		c := s.Current()
		acc.AddChunk(c)
		chunks = append(chunks, c)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	execID := resp.Header.Get(openaiapi.HeaderExecutionID)
	if execID == "" || len(chunks) < 4 {
		t.Fatalf("execution %q, %d chunks", execID, len(chunks))
	}
	first, last := chunks[0], chunks[len(chunks)-1]
	if len(first.Choices) != 1 || first.Choices[0].Delta.Role != "assistant" || first.ID != "chatcmpl-"+execID ||
		first.Object != "chat.completion.chunk" || first.Model != "template/general_chat" {
		t.Errorf("first chunk %+v", first)
	}
	if len(last.Choices) != 0 || last.Usage.TotalTokens == 0 {
		t.Errorf("last chunk (usage) %+v", last)
	}
	if fin := chunks[len(chunks)-2]; len(fin.Choices) != 1 || fin.Choices[0].FinishReason != "stop" {
		t.Errorf("finish chunk %+v", fin)
	}
	if got := acc.Choices[0].Message.Content; got != "You said: stream me a reply." {
		t.Errorf("streamed text %q", got)
	}
	var rec executionUsage
	o.get(t, ctx, "/api/v1/executions/"+execID, &rec)
	sameUsage(t, "stream", last.Usage, rec)

	// Without include_usage no chunk has usage; the raw stream matches the document
	// chunk by chunk and ends with [DONE].
	status, h, body := o.post(t, ctx, "/v1/chat/completions", o.token,
		[]byte(`{"model":"devllm","messages":[{"role":"user","content":"raw"}],"stream":true}`))
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") ||
		!bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) || bytes.Contains(body, []byte(`"usage"`)) {
		t.Errorf("raw stream %d %v\n%s", status, h, body)
	}
}

func TestOpenAI_DefinitionWithAToolCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := newOAIStack(t, ctx, "oai-tools")
	def := createToolDefinition(t, ctx, o)

	for _, model := range []string{"definition/" + def, "definition/" + def + "@1"} {
		var resp *http.Response
		got, err := o.c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(`/tool calculator {"expression":"2+3"}`)},
			// The client's own tools are ignored: the workflow's run on the server.
			Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(
				openai.FunctionDefinitionParam{Name: "client_side"})}}, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if c := got.Choices[0]; c.Message.Content != "The calculator tool returned: 5." || c.FinishReason != "stop" ||
			len(c.Message.ToolCalls) != 0 {
			t.Errorf("%s: choice %+v", model, c)
		}
		var rec executionUsage
		o.get(t, ctx, "/api/v1/executions/"+resp.Header.Get(openaiapi.HeaderExecutionID), &rec)
		if rec.ToolCalls != 1 {
			t.Errorf("%s: execution made %d tool calls", model, rec.ToolCalls)
		}
		sameUsage(t, model, got.Usage, rec) // both model calls of the run
	}

	// Streamed: the tool runs between the deltas; the text is the final answer.
	s := o.c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "definition/" + def,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(`/tool calculator {"expression":"6*7"}`)}})
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil || acc.Choices[0].Message.Content != "The calculator tool returned: 42." {
		t.Errorf("streamed tool run: %v %+v", err, acc.Choices)
	}
}

func TestOpenAI_ErrorsInOpenAIsShape(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := newOAIStack(t, ctx, "oai-errors")
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}

	bad := openai.NewClient(option.WithBaseURL(o.s.URL+"/v1/"), option.WithAPIKey("not-a-token"), option.WithMaxRetries(0))
	other := newClientFor(t, o, "oai-errors-other")
	def := createToolDefinition(t, ctx, o)
	for _, tc := range []struct {
		name                    string
		call                    func() error
		status                  int
		typ, code, param, words string
	}{
		{"unknown model", func() error {
			_, err := o.c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-9-ultra", Messages: msgs})
			return err
		}, 404, "invalid_request_error", "model_not_found", "model", "gpt-9-ultra"},
		{"unknown template", func() error {
			_, err := o.c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "template/nope", Messages: msgs})
			return err
		}, 404, "invalid_request_error", "model_not_found", "model", "template/nope"},
		{"another user's definition", func() error {
			_, err := other.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "definition/" + def, Messages: msgs})
			return err
		}, 404, "invalid_request_error", "model_not_found", "model", def},
		{"bad token", func() error {
			_, err := bad.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "devllm", Messages: msgs})
			return err
		}, 401, "invalid_request_error", "invalid_api_key", "", ""},
		{"bad token on models", func() error { _, err := bad.Models.List(ctx); return err },
			401, "invalid_request_error", "invalid_api_key", "", ""},
		{"n > 1", func() error {
			_, err := o.c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "devllm", Messages: msgs, N: openai.Int(2)})
			return err
		}, 400, "invalid_request_error", "invalid_input", "n", "n must be 1"},
		{"last message not the user's", func() error {
			_, err := o.c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "devllm",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi"), openai.AssistantMessage("yo")}})
			return err
		}, 400, "invalid_request_error", "invalid_input", "messages.1.role", "last message"},
		{"stream, unknown model", func() error {
			s := o.c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "nope", Messages: msgs})
			for s.Next() {
			}
			return s.Err()
		}, 404, "invalid_request_error", "model_not_found", "model", "nope"},
	} {
		err := tc.call()
		var ae *openai.Error
		if !errors.As(err, &ae) {
			t.Errorf("%s: error %v is not an *openai.Error", tc.name, err)
			continue
		}
		if ae.StatusCode != tc.status || ae.Type != tc.typ || ae.Code != tc.code || ae.Param != tc.param ||
			!strings.Contains(ae.Message, tc.words) {
			t.Errorf("%s: %d type %q code %q param %q message %q", tc.name, ae.StatusCode, ae.Type, ae.Code, ae.Param, ae.Message)
		}
	}

	// The raw error bodies match the document.
	for _, c := range []struct {
		token string
		body  string
		want  int
	}{
		{"", `{"model":"devllm","messages":[{"role":"user","content":"hi"}]}`, 401},
		{o.token, `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`, 404},
		{o.token, `{"model":"devllm","messages":[{"role":"user","content":"hi"}],"wat":1}`, 400},
		{o.token, `{"model":"devllm","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, 400},
		{o.token, `{"model":"devllm","messages":[{"role":"user","content":"` + strings.Repeat("x", 300<<10) + `"}]}`, 413},
	} {
		status, h, body := o.post(t, ctx, "/v1/chat/completions", c.token, []byte(c.body))
		var e wire.OpenAIErrorResponse
		if status != c.want || h.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil ||
			e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("%.200s: %d %s %s", c.body, status, h.Get("Content-Type"), body)
		}
	}
}
