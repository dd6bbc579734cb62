package wire

import (
	"encoding/json"
	"net/http"
	"strings"
)

// The OpenAI Chat Completions wire shapes (POST /v1/chat/completions, GET
// /v1/models), field for field as OpenAI's API reference writes them, so the
// official SDKs and the tools built on them parse chatter's answers unchanged.
// What each request field does in chatter: package httpapi/openaiapi.

// ChatCompletionRequest is the body of POST /v1/chat/completions. Every field
// OpenAI documents is accepted so clients that send them are not refused; the ones
// a workflow cannot honour are json.RawMessage, checked by the handler.
type ChatCompletionRequest struct {
	Model               string                  `json:"model"`
	Messages            []ChatCompletionMessage `json:"messages"`
	Stream              bool                    `json:"stream,omitempty"`
	StreamOptions       *StreamOptions          `json:"stream_options,omitempty"`
	Temperature         *float64                `json:"temperature,omitempty"`
	MaxTokens           *int                    `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int                    `json:"max_completion_tokens,omitempty"`
	N                   *int                    `json:"n,omitempty"`
	User                string                  `json:"user,omitempty"`
	Metadata            map[string]string       `json:"metadata,omitempty"`

	// Accepted; what is done with each is in package openaiapi's comment.
	Tools             json.RawMessage `json:"tools,omitempty"`
	ToolChoice        json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls json.RawMessage `json:"parallel_tool_calls,omitempty"`
	Functions         json.RawMessage `json:"functions,omitempty"`
	FunctionCall      json.RawMessage `json:"function_call,omitempty"`
	TopP              json.RawMessage `json:"top_p,omitempty"`
	FrequencyPenalty  json.RawMessage `json:"frequency_penalty,omitempty"`
	PresencePenalty   json.RawMessage `json:"presence_penalty,omitempty"`
	Stop              json.RawMessage `json:"stop,omitempty"`
	Seed              json.RawMessage `json:"seed,omitempty"`
	Logprobs          json.RawMessage `json:"logprobs,omitempty"`
	TopLogprobs       json.RawMessage `json:"top_logprobs,omitempty"`
	LogitBias         json.RawMessage `json:"logit_bias,omitempty"`
	ResponseFormat    json.RawMessage `json:"response_format,omitempty"`
	Store             json.RawMessage `json:"store,omitempty"`
	ReasoningEffort   json.RawMessage `json:"reasoning_effort,omitempty"`
	Verbosity         json.RawMessage `json:"verbosity,omitempty"`
	ServiceTier       json.RawMessage `json:"service_tier,omitempty"`
	PromptCacheKey    json.RawMessage `json:"prompt_cache_key,omitempty"`
	SafetyIdentifier  json.RawMessage `json:"safety_identifier,omitempty"`
	Modalities        json.RawMessage `json:"modalities,omitempty"`
	Audio             json.RawMessage `json:"audio,omitempty"`
	Prediction        json.RawMessage `json:"prediction,omitempty"`
	WebSearchOptions  json.RawMessage `json:"web_search_options,omitempty"`
}

// ChatCompletionMessage is one message of a request. Content is a string or an
// array of content parts ({"type":"text","text":...}); an assistant message may
// carry tool_calls and a tool message its tool_call_id.
type ChatCompletionMessage struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content,omitempty"`
	Name         string          `json:"name,omitempty"`
	ToolCalls    json.RawMessage `json:"tool_calls,omitempty"`
	ToolCallID   string          `json:"tool_call_id,omitempty"`
	FunctionCall json.RawMessage `json:"function_call,omitempty"`
	Refusal      json.RawMessage `json:"refusal,omitempty"`
	Audio        json.RawMessage `json:"audio,omitempty"`
}

// StreamOptions are a streaming request's options.
type StreamOptions struct {
	IncludeUsage       bool            `json:"include_usage,omitempty"`
	IncludeObfuscation json.RawMessage `json:"include_obfuscation,omitempty"`
}

// Object names of the answers.
const (
	ObjectChatCompletion      = "chat.completion"
	ObjectChatCompletionChunk = "chat.completion.chunk"
	ObjectList                = "list"
	ObjectModel               = "model"
)

// ChatCompletion is the standard answer.
type ChatCompletion struct {
	ID                string                 `json:"id"`
	Object            string                 `json:"object"`
	Created           int64                  `json:"created"`
	Model             string                 `json:"model"`
	Choices           []ChatCompletionChoice `json:"choices"`
	Usage             *CompletionUsage       `json:"usage,omitempty"`
	SystemFingerprint *string                `json:"system_fingerprint"`
	ServiceTier       *string                `json:"service_tier,omitempty"`
}

// ChatCompletionChoice is the one choice of an answer.
type ChatCompletionChoice struct {
	Index        int                 `json:"index"`
	Message      ChatCompletionReply `json:"message"`
	FinishReason string              `json:"finish_reason"`
	Logprobs     *json.RawMessage    `json:"logprobs"`
}

// ChatCompletionReply is the assistant message of a choice.
type ChatCompletionReply struct {
	Role        string            `json:"role"`
	Content     *string           `json:"content"`
	Refusal     *string           `json:"refusal"`
	Annotations []json.RawMessage `json:"annotations"`
}

// ChatCompletionChunk is one frame of a streamed answer (the data of "data: ..."
// lines; the stream ends with "data: [DONE]"). The frame carrying usage (with
// stream_options.include_usage) has no choices.
type ChatCompletionChunk struct {
	ID                string           `json:"id"`
	Object            string           `json:"object"`
	Created           int64            `json:"created"`
	Model             string           `json:"model"`
	Choices           []ChunkChoice    `json:"choices"`
	Usage             *CompletionUsage `json:"usage,omitempty"`
	SystemFingerprint *string          `json:"system_fingerprint"`
}

// ChunkChoice is a chunk's one choice: the delta, and the finish reason on the
// last content chunk (null before).
type ChunkChoice struct {
	Index        int              `json:"index"`
	Delta        ChunkDelta       `json:"delta"`
	FinishReason *string          `json:"finish_reason"`
	Logprobs     *json.RawMessage `json:"logprobs"`
}

// ChunkDelta is the new part of the reply: the role on the first chunk, then text.
type ChunkDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// CompletionUsage is OpenAI's usage: prompt_tokens include the cached ones
// (prompt_tokens_details.cached_tokens).
type CompletionUsage struct {
	PromptTokens            int                     `json:"prompt_tokens"`
	CompletionTokens        int                     `json:"completion_tokens"`
	TotalTokens             int                     `json:"total_tokens"`
	PromptTokensDetails     PromptTokensDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails CompletionTokensDetails `json:"completion_tokens_details"`
}

// PromptTokensDetails splits the prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens"`
}

// CompletionTokensDetails splits the completion tokens (chatter has no reasoning
// or audio split: zeros).
type CompletionTokensDetails struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}

// CompletionUsageOf is u in OpenAI's terms: every input token is a prompt token
// (cache reads are the cached tokens, cache writes count as prompt tokens), so
// total_tokens is u's total.
func CompletionUsageOf(u *Usage) *CompletionUsage {
	if u == nil {
		return nil
	}
	prompt := u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	return &CompletionUsage{PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens,
		PromptTokensDetails: PromptTokensDetails{CachedTokens: u.CacheReadTokens}}
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the answer of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

// OpenAIErrorResponse is an error answer of the /v1 routes.
type OpenAIErrorResponse struct {
	Error OpenAIError `json:"error"`
}

// OpenAIError is OpenAI's error object.
type OpenAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// OpenAI's error types and the codes chatter sends where OpenAI has its own.
const (
	OpenAIInvalidRequest = "invalid_request_error"
	OpenAIRateLimit      = "requests"
	OpenAIServerError    = "server_error"

	OpenAICodeInvalidKey    = "invalid_api_key"
	OpenAICodeModelNotFound = "model_not_found"
	OpenAICodeRateLimit     = "rate_limit_exceeded"
)

// OpenAIErrorOf is problem p as the /v1 routes answer it, with its status. The
// status is p's, except 422 (chatter's invalid input), which OpenAI answers 400.
// The type follows the status: 429 requests, 5xx server_error, any other
// invalid_request_error. The code is OpenAI's where it has one (invalid_api_key
// for 401, rate_limit_exceeded for 429, or the code of p's first field error when
// it names one of its own, such as model_not_found), else chatter's code; param
// is the first field error's field, as a dotted path ("messages.0.content").
func OpenAIErrorOf(p *Problem) (int, OpenAIErrorResponse) {
	status := p.Status
	if status == http.StatusUnprocessableEntity {
		status = http.StatusBadRequest
	}
	e := OpenAIError{Message: p.Detail, Type: OpenAIInvalidRequest}
	if e.Message == "" {
		e.Message = p.Title
	}
	code := p.Code
	switch {
	case status == http.StatusTooManyRequests:
		e.Type, code = OpenAIRateLimit, OpenAICodeRateLimit
	case status >= 500:
		e.Type = OpenAIServerError
	case status == http.StatusUnauthorized:
		code = OpenAICodeInvalidKey
	}
	if len(p.Errors) > 0 {
		f := p.Errors[0]
		if f.Code != "" && f.Code != p.Code {
			code = f.Code
		}
		if param := strings.ReplaceAll(strings.TrimPrefix(f.Field, "/"), "/", "."); param != "" {
			e.Param = &param
		}
	}
	if code != "" {
		e.Code = &code
	}
	return status, OpenAIErrorResponse{Error: e}
}
