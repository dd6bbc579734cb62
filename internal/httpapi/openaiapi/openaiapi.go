// Package openaiapi serves chatter's OpenAI-compatible surface — POST
// /v1/chat/completions (standard, and stream: true) and GET /v1/models — so any
// OpenAI client (the official SDKs, Open WebUI, LibreChat, LangChain's ChatOpenAI)
// runs a chatter workflow given a base URL (<host>/v1) and a chatter token as its
// API key. Runs go through the one executor.Execute, with the same bearer auth,
// rate limits and tenant isolation as every route; the bodies and chunks are
// OpenAI's (package wire, openai.go), and so are the errors:
// {"error":{"message","type","param","code"}} (wire.OpenAIErrorOf).
//
// model names what runs:
//
//	template/<name>               a built-in template, or the user's by id or name
//	definition/<id>[@<version>]   the user's stored definition (latest, or that version)
//	<model id>                    universal_chat (the dynamic graph) on that model, as
//	                              GET /v1/models lists it: each configured provider's
//	                              default model and the price table's models of it
//	<provider>/<model id>         universal_chat on any model of a configured provider
//	                              (e.g. openai/llama3.1 on an OpenAI-compatible server)
//
// Anything else is 404 model_not_found, as is a template or definition the user
// cannot read. GET /v1/models lists the built-in templates, the user's templates
// and definitions (up to maxListed of each) and the provider models, with
// owned_by chatter, the user, or the provider.
//
// messages: the last message must be the user's; it is the turn. system and
// developer messages (joined by a blank line) are the run's system prompt
// (system_prompt_override: they replace the workflow's). Without a conversation,
// the earlier user and assistant messages are the model's history (text only,
// within the workflow's memory window) and are not stored: the conversation that
// chatter creates begins with this turn. To continue a stored conversation, name
// it with the X-Chatter-Conversation-Id header or metadata.conversation_id (both:
// they must agree); its stored messages are then the history and the request's
// earlier messages are ignored. Every answer names its conversation and its run
// in the X-Chatter-Conversation-Id and X-Chatter-Execution-Id headers (the run is
// GET /api/v1/executions/{id}); the completion's id is "chatcmpl-<execution id>".
//
// Honoured: temperature (0..2), max_completion_tokens (else max_tokens) as the
// run's max_tokens, stream with stream_options.include_usage (a last chunk with
// empty choices and the usage), metadata (kept on the execution), user (kept as
// metadata openai_user). The answer's model echoes the request's; usage is the
// run's, every model call of it (prompt_tokens include cached_tokens, the cache
// reads); finish_reason is the last model call's: stop, or length at max_tokens.
//
// Accepted and ignored, because a workflow decides them: tools, functions,
// tool_choice none or auto, parallel_tool_calls (the workflow's own tools run on
// the server and are not returned as tool_calls; they are in the execution
// record), tool and function messages and assistant tool_calls in the history,
// top_p, frequency_penalty, presence_penalty, stop, seed, logit_bias, store,
// reasoning_effort, verbosity, service_tier, prompt_cache_key, safety_identifier,
// prediction, web_search_options, stream_options.include_obfuscation, and a
// message's name. Refused with 400 invalid_request_error naming the param, because
// they cannot be honoured: n other than 1, logprobs or top_logprobs, a
// response_format other than text, a tool_choice that forces a call, modalities
// or audio other than text, content parts other than text, stream_options without
// stream, and unknown fields. Rate class: chat for completions (streamed or
// not), other for the models list.
package openaiapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
	"github.com/chatterhq/chatter/internal/wire/fromstore"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Route paths.
const (
	PathCompletions = "POST /v1/chat/completions"
	PathModels      = "GET /v1/models"
)

// Response and request headers naming the run and the conversation.
const (
	HeaderExecutionID    = httpcore.HeaderExecutionID
	HeaderConversationID = httpcore.HeaderConversationID
)

// Model prefixes of the sources.
const (
	PrefixTemplate   = "template/"
	PrefixDefinition = "definition/"
)

// maxListed bounds the user's templates and definitions GET /v1/models lists.
const maxListed = 500

// Catalog is what the models list reads of the store. Both methods return only
// the user's own records.
type Catalog interface {
	ListTemplates(ctx context.Context, userID string, p store.PageRequest) (store.Page[*workflow.Template], error)
	ListDefinitions(ctx context.Context, userID string, p store.PageRequest) (store.Page[store.Definition], error)
}

// Deps are what the routes use. Executor is required; Catalog by the models list.
type Deps struct {
	Executor  *executor.Executor
	Catalog   Catalog
	Heartbeat time.Duration // SSE ping interval; default httpcore.DefaultHeartbeat
	Now       func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Route is one route of the surface: pattern, handler constructor, options.
type Route struct {
	Pattern string
	Handler func(Deps) http.Handler
	Class   httpcore.Class
}

// Routes lists the surface's routes.
var Routes = []Route{
	{PathCompletions, Completions, httpcore.ClassChat},
	{PathModels, Models, httpcore.ClassOther},
}

// Options are the route options every route of the surface mounts with: its rate
// class and OpenAI's error shape.
func (r Route) Options() []httpcore.RouteOption {
	return []httpcore.RouteOption{httpcore.RateClass(r.Class), httpcore.ErrorsAs(WriteError)}
}

// Register mounts every route of the surface on rt.
func Register(rt *httpcore.Router, d Deps) {
	for _, r := range Routes {
		rt.Mount(r.Pattern, r.Handler(d), r.Options()...)
	}
}

// WriteError writes problem p in OpenAI's error shape (wire.OpenAIErrorOf).
func WriteError(w http.ResponseWriter, p *httpcore.Problem) {
	status, body := wire.OpenAIErrorOf(p)
	b, err := json.Marshal(body)
	if err != nil { // plain strings
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":"internal"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func invalid(param, format string, args ...any) *httpcore.Error {
	return httpcore.FieldErr(errcode.InvalidInput, param, fmt.Sprintf(format, args...))
}

func modelNotFound(model string) *httpcore.Error {
	msg := fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model)
	return &httpcore.Error{Code: errcode.NotFound, Message: msg,
		Errors: []httpcore.FieldError{{Field: "model", Code: wire.OpenAICodeModelNotFound, Message: msg}}}
}

// Completions serves POST /v1/chat/completions.
func Completions(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body wire.ChatCompletionRequest
		if err := httpcore.Decode(r, &body); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		req, err := request(d.Executor, &body, r.Header.Get(HeaderConversationID), httpcore.UserID(r.Context()))
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		if body.Stream {
			stream(d, w, r, req, &body)
			return
		}
		res, err := d.Executor.Execute(r.Context(), req, executor.Discard)
		named(w, r, res)
		if err != nil {
			httpapi.Fail(w, r, problem(err, res, body.Model))
			return
		}
		httpcore.WriteJSON(w, r, http.StatusOK, completion(res, body.Model))
	})
}

// named sets the headers naming the run and its conversation, and the run's id
// on the request's log lines.
func named(w http.ResponseWriter, r *http.Request, res *executor.Result) {
	if res == nil || res.ExecutionID == "" {
		return
	}
	w.Header().Set(HeaderExecutionID, res.ExecutionID)
	w.Header().Set(HeaderConversationID, res.ConversationID)
	httpcore.LogWith(r.Context(), "execution_id", res.ExecutionID)
}

// problem is an executor error as the surface answers it (chat.Problem), except
// that a template or definition that is not there is the model that is not found.
func problem(err error, res *executor.Result, model string) error {
	var pe *executor.PreparationError
	if errors.As(err, &pe) && pe.Code == errcode.NotFound && (pe.Field == "template" || pe.Field == "definition") {
		return modelNotFound(model)
	}
	return chat.Problem(err, res)
}

// completion is the standard answer of a finished run.
func completion(res *executor.Result, model string) *wire.ChatCompletion {
	text := res.Response
	return &wire.ChatCompletion{ID: completionID(res.ExecutionID), Object: wire.ObjectChatCompletion,
		Created: res.StartedAt.Unix(), Model: model,
		Choices: []wire.ChatCompletionChoice{{Index: 0, FinishReason: finishReason(res.FinishReason),
			Message: wire.ChatCompletionReply{Role: "assistant", Content: &text, Annotations: []json.RawMessage{}}}},
		Usage: usage(res)}
}

func completionID(executionID string) string { return "chatcmpl-" + executionID }

func usage(res *executor.Result) *wire.CompletionUsage {
	return wire.CompletionUsageOf(fromstore.Usage(res.Usage, res.Cost.USD, res.Cost.Known))
}

// finishReason is OpenAI's finish_reason of a run: the last model call's, except
// that a run never hands tool calls to the client (its tools ran on the server),
// so tool_calls, like none, is stop.
func finishReason(f string) string {
	switch f {
	case llm.FinishLength, llm.FinishFiltered:
		return f
	}
	return llm.FinishStop
}

// request maps an OpenAI request onto an executor request.
func request(x *executor.Executor, b *wire.ChatCompletionRequest, convHeader, userID string) (executor.Request, error) {
	if err := refuse(b); err != nil {
		return executor.Request{}, err
	}
	src, cfg, err := source(x, b.Model)
	if err != nil {
		return executor.Request{}, err
	}
	if t := b.Temperature; t != nil && (*t < 0 || *t > 2) {
		return executor.Request{}, invalid("temperature", "temperature must be between 0 and 2")
	}
	cfg.Temperature = b.Temperature
	for _, m := range []struct {
		name string
		v    *int
	}{{"max_tokens", b.MaxTokens}, {"max_completion_tokens", b.MaxCompletionTokens}} {
		if m.v == nil {
			continue
		}
		if *m.v < 1 {
			return executor.Request{}, invalid(m.name, "%s must be at least 1", m.name)
		}
		cfg.MaxTokens = *m.v // max_completion_tokens, second, wins
	}
	convID, meta, err := conversation(b, convHeader)
	if err != nil {
		return executor.Request{}, err
	}
	msg, system, hist, err := messages(b.Messages)
	if err != nil {
		return executor.Request{}, err
	}
	cfg.SystemPromptOverride = system
	if convID != "" {
		hist = nil // the stored conversation is the history
	}
	return executor.Request{Source: src, Mode: mode(b.Stream), Input: executor.Input{Message: msg,
		ConversationID: convID, UserID: userID, Config: cfg, Metadata: meta, History: hist}}, nil
}

func mode(stream bool) executor.Mode {
	if stream {
		return executor.ModeStreaming
	}
	return executor.ModeStandard
}

// refuse names the first field that asks for what a workflow cannot do.
func refuse(b *wire.ChatCompletionRequest) error {
	switch {
	case b.Model == "":
		return invalid("model", "model is required: template/<name>, definition/<id>[@<version>] or a model id (GET /v1/models)")
	case b.N != nil && *b.N != 1:
		return invalid("n", "n must be 1: a workflow run produces one reply")
	case truthy(b.Logprobs):
		return invalid("logprobs", "logprobs are not available from a workflow run")
	case set(b.TopLogprobs) && string(b.TopLogprobs) != "0":
		return invalid("top_logprobs", "logprobs are not available from a workflow run")
	case b.StreamOptions != nil && !b.Stream:
		return invalid("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	if set(b.ResponseFormat) {
		var rf struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(b.ResponseFormat, &rf) != nil || rf.Type != "text" {
			return invalid("response_format", "response_format must be text: a workflow's reply is not constrained to a format")
		}
	}
	if set(b.ToolChoice) {
		var s string
		if json.Unmarshal(b.ToolChoice, &s) != nil || (s != "none" && s != "auto") {
			return invalid("tool_choice", "tool_choice must be none or auto: a workflow's own tools run on the server")
		}
	}
	if set(b.Modalities) {
		var ms []string
		if json.Unmarshal(b.Modalities, &ms) != nil || slices.ContainsFunc(ms, func(m string) bool { return m != "text" }) {
			return invalid("modalities", "only the text modality is available")
		}
	}
	if set(b.Audio) {
		return invalid("audio", "audio output is not available")
	}
	return nil
}

// set reports whether a raw field was sent with a value other than null.
func set(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func truthy(raw json.RawMessage) bool { return set(raw) && string(bytes.TrimSpace(raw)) != "false" }

// source resolves model to what runs (see the package comment).
func source(x *executor.Executor, model string) (executor.Source, executor.Config, error) {
	var cfg executor.Config
	if name, ok := strings.CutPrefix(model, PrefixTemplate); ok {
		if name == "" {
			return executor.Source{}, cfg, modelNotFound(model)
		}
		return executor.Source{Kind: executor.SourceTemplate, ID: name}, cfg, nil
	}
	if ref, ok := strings.CutPrefix(model, PrefixDefinition); ok {
		id, v, hasV := strings.Cut(ref, "@")
		version := 0
		if hasV {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return executor.Source{}, cfg, invalid("model", "the version in %q must be a positive number", model)
			}
			version = n
		}
		if !store.ValidID(id) {
			return executor.Source{}, cfg, modelNotFound(model)
		}
		return executor.Source{Kind: executor.SourceDefinition, ID: id, Version: version}, cfg, nil
	}
	dynamic := executor.Source{Kind: executor.SourceDynamic}
	for _, m := range x.Models() {
		if m.ID == model {
			cfg.Provider, cfg.Model = m.Provider, m.ID
			return dynamic, cfg, nil
		}
	}
	if p, id, ok := strings.Cut(model, "/"); ok && id != "" && slices.Contains(x.ProviderNames(), p) {
		cfg.Provider, cfg.Model = p, id
		return dynamic, cfg, nil
	}
	return executor.Source{}, cfg, modelNotFound(model)
}

// conversation is the stored conversation the request continues ("" for a new
// one) and the run's metadata.
func conversation(b *wire.ChatCompletionRequest, header string) (string, map[string]any, error) {
	header = strings.TrimSpace(header)
	fromMeta := b.Metadata["conversation_id"]
	if header != "" && fromMeta != "" && header != fromMeta {
		return "", nil, invalid("metadata.conversation_id", "metadata.conversation_id and the %s header differ; send one", HeaderConversationID)
	}
	id := header
	if id == "" {
		id = fromMeta
	}
	if id != "" && !store.ValidID(id) {
		return "", nil, invalid("metadata.conversation_id", "%q is not a conversation id", id)
	}
	var meta map[string]any
	for k, v := range b.Metadata {
		if k == "conversation_id" {
			continue
		}
		if meta == nil {
			meta = map[string]any{}
		}
		meta[k] = v
	}
	if b.User != "" {
		if meta == nil {
			meta = map[string]any{}
		}
		meta["openai_user"] = b.User
	}
	return id, meta, nil
}

// messages splits the request's messages into the turn (the last, a user
// message), the system prompt and the history before the turn.
func messages(ms []wire.ChatCompletionMessage) (string, string, []llm.Message, error) {
	if len(ms) == 0 {
		return "", "", nil, invalid("messages", "messages must hold at least one user message")
	}
	var system []string
	var hist []llm.Message
	for i, m := range ms {
		at := "messages." + strconv.Itoa(i)
		text, err := content(m.Content, at+".content")
		if err != nil {
			return "", "", nil, err
		}
		switch m.Role {
		case "system", "developer":
			if text != "" {
				system = append(system, text)
			}
		case "user":
			hist = append(hist, llm.Message{Role: llm.RoleUser, Content: text})
		case "assistant":
			if text != "" { // a message of tool calls only: the client's tools, ignored
				hist = append(hist, llm.Message{Role: llm.RoleAssistant, Content: text})
			}
		case "tool", "function":
			// Results of the client's own tools: a workflow runs its own.
		default:
			return "", "", nil, invalid(at+".role", "role must be system, developer, user, assistant or tool, not %q", m.Role)
		}
	}
	last := ms[len(ms)-1]
	if last.Role != "user" {
		return "", "", nil, invalid("messages."+strconv.Itoa(len(ms)-1)+".role", "the last message must be the user's: it is the turn")
	}
	turn := hist[len(hist)-1]
	if strings.TrimSpace(turn.Content) == "" {
		return "", "", nil, invalid("messages."+strconv.Itoa(len(ms)-1)+".content", "the last user message is empty")
	}
	return turn.Content, strings.Join(system, "\n\n"), hist[:len(hist)-1], nil
}

// content is a message's text: a string, or the text parts of an array joined by
// newlines. Other parts (images, audio, files) are refused.
func content(raw json.RawMessage, at string) (string, error) {
	if !set(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", invalid(at, "content must be a string or an array of content parts")
	}
	texts := make([]string, 0, len(parts))
	for i, p := range parts {
		if p.Type != "text" {
			return "", invalid(at+"."+strconv.Itoa(i)+".type", "only text content parts are supported, not %q", p.Type)
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n"), nil
}
