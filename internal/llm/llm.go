// Package llm is the streaming-first contract between the executor and model
// providers. A provider turns a Request into a Stream of Deltas (text, tool-call
// fragments, usage, finish reason); a non-streaming call is a collected stream.
// Adapters live in sub-packages (bedrock, openai, anthropic, devllm) and are handed
// to the executor as values, so nothing here imports a provider SDK.
//
// Rules every adapter and caller share, owned here:
//
//   - A call has started once its first content delta (text or a tool-call
//     fragment) arrived (Accumulator.Started). Usage, finish and pings before it do
//     not count: a retryable failure before that point (an HTTP 429/5xx/529, or
//     Anthropic's in-stream overloaded_error after message_start) is retried.
//   - total tokens = input + cache read + cache write + output (Usage.Total): every
//     token the model processed, as OpenAI's total_tokens and Bedrock's totalTokens
//     count them, whether or not it was cached.
//   - Retry-After (seconds or an HTTP date) on a 429/503/529 is kept in
//     Error.RetryAfter (ParseRetryAfter); a caller waits that long before retrying,
//     at most MaxRetryAfter and never past its deadline.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Role of a message in a conversation.
type Role string

const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// ToolCall is a complete request from the model to run one tool.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Message is one turn sent to a provider. A tool result is a RoleTool message whose
// ToolCallID names the call it answers; IsError marks a failed tool run.
type Message struct {
	Role       Role       `json:"role"`
	Content    string     `json:"content,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Name       string     `json:"name,omitempty"`
	IsError    bool       `json:"is_error,omitempty"`
}

// ToolSpec describes a tool offered to the model; Parameters is a JSON Schema object.
type ToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// Request is one model call. Temperature nil means the provider default; MaxTokens 0
// means the provider default.
type Request struct {
	Model       string
	System      string
	Messages    []Message
	Tools       []ToolSpec
	Temperature *float64
	MaxTokens   int
}

// Usage is token accounting as reported by the provider. InputTokens is the
// uncached input: tokens read from or written to a prompt cache are counted only in
// CacheReadTokens/CacheWriteTokens (adapters whose provider includes them in the
// prompt count subtract them), so cost is never charged twice.
type Usage struct {
	InputTokens      int `json:"input_tokens"`
	OutputTokens     int `json:"output_tokens"`
	CacheReadTokens  int `json:"cache_read_tokens,omitempty"`
	CacheWriteTokens int `json:"cache_write_tokens,omitempty"`
}

// Total is every token of the call: uncached input, cache reads, cache writes and
// output. It equals OpenAI's total_tokens and Bedrock's totalTokens, and Anthropic's
// input_tokens + cache_creation_input_tokens + cache_read_input_tokens + output_tokens.
func (u Usage) Total() int {
	return u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens + u.OutputTokens
}

// Add returns the element-wise sum.
func (u Usage) Add(o Usage) Usage {
	return Usage{
		InputTokens:      u.InputTokens + o.InputTokens,
		OutputTokens:     u.OutputTokens + o.OutputTokens,
		CacheReadTokens:  u.CacheReadTokens + o.CacheReadTokens,
		CacheWriteTokens: u.CacheWriteTokens + o.CacheWriteTokens,
	}
}

// Finish reasons, normalised across providers.
const (
	FinishStop      = "stop"
	FinishToolCalls = "tool_calls"
	FinishLength    = "length"
	FinishFiltered  = "content_filter"
)

// DeltaKind says which field of a Delta is set.
type DeltaKind uint8

const (
	DeltaText     DeltaKind = iota + 1 // Text holds the next piece of reply text
	DeltaToolCall                      // ToolCall holds a fragment of one tool call
	DeltaUsage                         // Usage holds token counts (may arrive more than once; later values replace earlier ones field by field when non-zero)
	DeltaFinish                        // FinishReason is set
)

// ToolCallDelta is a fragment of a tool call. Fragments with the same Index belong to
// one call; ID and Name arrive on the first fragment, Arguments is appended.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// Delta is one event of a stream. It is a value type so a stream allocates nothing
// per delta.
type Delta struct {
	Kind         DeltaKind
	Text         string
	ToolCall     ToolCallDelta
	Usage        Usage
	FinishReason string
}

// Stream is shaped like openai-go's streams: call Next until it returns false, read
// Current after each true, then check Err. Close is safe to call more than once and
// releases the upstream connection; a stream closes itself when it ends. Request
// errors are deferred into the stream (Next returns false, Err returns them).
type Stream interface {
	Next() bool
	Current() Delta
	Err() error
	Close() error
}

// Provider is a model backend.
type Provider interface {
	// Name is the provider id used in configuration ("bedrock", "openai", ...).
	Name() string
	// Stream starts one model call. It never returns nil.
	Stream(ctx context.Context, req *Request) Stream
}

// ErrorCode classifies provider failures so callers can branch on them.
type ErrorCode string

const (
	CodeRateLimited    ErrorCode = "rate_limited"    // 429 or throttling
	CodeUnavailable    ErrorCode = "unavailable"     // 5xx, overloaded, connection failures
	CodeInvalidRequest ErrorCode = "invalid_request" // the provider rejected the request (400, validation)
	CodeAuth           ErrorCode = "auth"            // missing or rejected credentials
	CodeModel          ErrorCode = "model_error"     // the model failed mid-generation
	CodeMalformed      ErrorCode = "malformed"       // a frame could not be decoded
	CodeCancelled      ErrorCode = "cancelled"       // the context was cancelled
	CodeTimeout        ErrorCode = "timeout"         // the context deadline passed
)

// CodeForStatus classifies a provider's HTTP status the one way every adapter (and
// devllm's simulated failures) does: 429 rate_limited; 401 and 403 auth; 408 and
// every 5xx (Anthropic's 529 overloaded included) unavailable, so retried; the rest
// of 4xx invalid_request. A status below 400 on an error (an in-stream error event
// on a 200) is model_error.
func CodeForStatus(status int) ErrorCode {
	switch {
	case status == http.StatusTooManyRequests:
		return CodeRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return CodeAuth
	case status == http.StatusRequestTimeout || status >= 500:
		return CodeUnavailable
	case status >= 400:
		return CodeInvalidRequest
	}
	return CodeModel
}

// Error is a typed provider error.
type Error struct {
	Provider string
	Code     ErrorCode
	Status   int // HTTP status when there was one
	Message  string
	// RetryAfter is how long the provider asked the caller to wait (its Retry-After
	// header), 0 when it did not say.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: %s (status %d): %s", e.Provider, e.Code, e.Status, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Provider, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether trying the same request again may succeed.
func (e *Error) Retryable() bool {
	return e.Code == CodeRateLimited || e.Code == CodeUnavailable
}

// IsRetryable reports whether err is an *Error that may succeed on retry.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}

// ContextError maps a context error to a typed *Error, or returns nil.
func ContextError(provider string, err error) *Error {
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Provider: provider, Code: CodeCancelled, Message: "request cancelled", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Provider: provider, Code: CodeTimeout, Message: "deadline exceeded", Err: err}
	}
	return nil
}

// MaxRetryAfter caps the wait a provider's Retry-After may ask for: a longer wait is
// not worth holding a request (and a Lambda) open for, so the call fails instead.
const MaxRetryAfter = 60 * time.Second

// ParseRetryAfter reads a Retry-After header (RFC 9110: delay-seconds or an
// HTTP-date, relative to now). It returns 0 when the header is absent, malformed or
// in the past. The value is not capped here; callers compare it with MaxRetryAfter.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		const day = int64(24 * time.Hour / time.Second) // keeps the Duration from overflowing
		return time.Duration(min(max(n, 0), day)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// RetryAfterOf returns the wait the provider asked for with err, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
