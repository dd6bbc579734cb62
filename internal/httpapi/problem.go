// Package httpapi is the HTTP layer every chatter function shares: RFC 9457 problem
// responses with stable codes, the middleware chain (request id, recover, access log,
// body limit, auth, rate limits, Idempotency-Key), JSON decoding, pagination, the SSE
// writer and route registration. It imports neither the executor nor any LLM SDK, so
// CRUD functions stay small; the execution handlers live in httpapi/chat.
//
// Idempotency-Key keeps completed answers only (Replayable: 2xx, and 4xx the request
// caused — not 408, 409, 425, 429 or 499 — up to MaxReplayBytes); a first request
// that ends otherwise releases its key at once, so the retry runs anew. An answer
// naming a conversation goes when the conversation is deleted. Logs carry ids,
// statuses, sizes, codes and durations, never a request or response body.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/userexpr"
)

// Stable problem codes. Executor codes with the same meaning share the string.
const (
	CodeInvalid              = "invalid"
	CodeInvalidInput         = "invalid_input"
	CodeInvalidWorkflow      = "invalid_workflow"
	CodeUnknownProvider      = "unknown_provider"
	CodeProviderUnconfigured = "provider_unconfigured"
	CodeUnknownTool          = "unknown_tool"
	CodeUnsupportedSource    = "unsupported_source"
	CodeUnauthorized         = "unauthorized"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodeTooLarge             = "too_large"
	CodeRateLimited          = "rate_limited"
	CodeInternal             = "internal"
	CodeStorage              = "storage_error"
	CodeUnavailable          = "unavailable"
	// Run-time codes of an execution answered in standard mode.
	CodeLLM          = "llm_error"
	CodeNodeFailed   = "node_failed"
	CodeCondition    = "condition_error"
	CodeExprBudget   = userexpr.CodeBudgetExceeded
	CodeStepLimit    = "step_limit_exceeded"
	CodeTimeout      = "timeout"
	CodeCancelled    = "cancelled"
	CodeDisconnected = "client_disconnected"
	// CodeConversationDeleted: the conversation was deleted while its turn ran.
	CodeConversationDeleted = "conversation_deleted"
)

// StatusClientClosed is the status recorded for a run the client abandoned (nginx's
// 499); the client never reads it, but the access log and metrics do.
const StatusClientClosed = 499

type codeInfo struct {
	status int
	title  string
	// internal codes are logged in full and shown to clients with the title only.
	internal bool
}

// codes is the one table from code to status. Request validation errors (invalid,
// invalid_input: a bad body, field, parameter or cursor) are 422, the status of the
// predecessor's contract that chatter's clients were written against.
// provider_unconfigured is a 400, not a 503: the condition is persistent until an
// operator adds the missing key, so a client retry cannot help, while choosing
// another provider (named in the detail) can.
var codes = map[string]codeInfo{
	CodeInvalid:              {http.StatusUnprocessableEntity, "Invalid request", false},
	CodeInvalidInput:         {http.StatusUnprocessableEntity, "Invalid input", false},
	CodeInvalidWorkflow:      {http.StatusBadRequest, "Invalid workflow", false},
	CodeUnknownProvider:      {http.StatusBadRequest, "Unknown provider", false},
	CodeProviderUnconfigured: {http.StatusBadRequest, "Provider not configured", false},
	CodeUnknownTool:          {http.StatusBadRequest, "Unknown tool", false},
	CodeUnsupportedSource:    {http.StatusBadRequest, "Unsupported source", false},
	CodeUnauthorized:         {http.StatusUnauthorized, "Unauthorized", false},
	CodeNotFound:             {http.StatusNotFound, "Not found", false},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed", false},
	CodeConflict:             {http.StatusConflict, "Conflict", false},
	CodeTooLarge:             {http.StatusRequestEntityTooLarge, "Request too large", false},
	CodeRateLimited:          {http.StatusTooManyRequests, "Too many requests", false},
	CodeLLM:                  {http.StatusBadGateway, "Model provider failed", false},
	CodeNodeFailed:           {http.StatusUnprocessableEntity, "Workflow node failed", false},
	CodeCondition:            {http.StatusUnprocessableEntity, "Workflow condition failed", false},
	CodeExprBudget:           {http.StatusUnprocessableEntity, "Workflow expression exceeded its budget", false},
	CodeStepLimit:            {http.StatusUnprocessableEntity, "Workflow step limit exceeded", false},
	CodeTimeout:              {http.StatusGatewayTimeout, "Run timed out", false},
	CodeCancelled:            {StatusClientClosed, "Run cancelled", false},
	CodeDisconnected:         {StatusClientClosed, "Client went away", false},
	CodeConversationDeleted:  {http.StatusGone, "Conversation deleted", false},
	CodeUnavailable:          {http.StatusServiceUnavailable, "Service unavailable", true},
	CodeStorage:              {http.StatusInternalServerError, "Internal error", true},
	CodeInternal:             {http.StatusInternalServerError, "Internal error", true},
}

// Internal reports whether code is an internal failure: logged in full, shown to
// clients only as a generic message.
func Internal(code string) bool { return info(code).internal }

// StatusOf returns the HTTP status of a code; unknown codes are internal (500).
func StatusOf(code string) int { return info(code).status }

func info(code string) codeInfo {
	if ci, ok := codes[code]; ok {
		return ci
	}
	return codes[CodeInternal]
}

// FieldError is one problem with one request field.
type FieldError struct {
	Field   string `json:"field"` // JSON pointer (/nodes/0/id) or a top-level field name
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// Set when a run was started, so clients can find what was stored.
	ExecutionID    string `json:"execution_id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
}

// ProblemTypePrefix prefixes the code to form a problem's type URI.
const ProblemTypePrefix = "urn:chatter:problem:"

// Error is an error with a stable code that handlers return; Fail turns it into a
// problem response. Message is shown to clients unless the code is internal.
type Error struct {
	Code    string
	Message string
	Errors  []FieldError
	// ExecutionID and ConversationID name a run that was started and failed.
	ExecutionID    string
	ConversationID string
	// Header is added to the response (e.g. WWW-Authenticate, Retry-After).
	Header http.Header
	Err    error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// FieldErr builds an *Error with one field problem naming field.
func FieldErr(code, field, message string) *Error {
	return &Error{Code: code, Message: message, Errors: []FieldError{{Field: field, Code: code, Message: message}}}
}

// AsError classifies any error as an *Error: an *Error as is, a store error by its
// code, a body over the limit as too_large, anything else as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return tooLarge(mb.Limit)
	}
	var se *store.Error
	if errors.As(err, &se) {
		code := se.Code
		switch code {
		case store.CodeNotFound, store.CodeConflict, store.CodeTooLarge, store.CodeInvalid:
		default:
			code = CodeStorage
		}
		return &Error{Code: code, Message: se.Message, Err: err}
	}
	return &Error{Code: CodeInternal, Err: err}
}

func tooLarge(limit int64) *Error {
	return &Error{Code: CodeTooLarge, Message: "request body is larger than " + strconv.FormatInt(limit, 10) + " bytes"}
}

// Fail writes err as a problem response. Internal errors (internal, storage_error,
// unavailable, anything unclassified) are logged in full with the request id, and
// the client sees only the generic title; other errors are not logged here (the
// access log has their status).
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	e := AsError(err)
	if info(e.Code).internal {
		Logger(r.Context()).Error("request failed", "code", e.Code, "err", err)
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	WriteProblem(w, problemFor(r, e))
}

// problemFor builds the body of e; internal errors show only the generic title.
func problemFor(r *http.Request, e *Error) *Problem {
	code := e.Code
	if _, known := codes[code]; !known {
		code = CodeInternal
	}
	ci := info(code)
	p := &Problem{Type: ProblemTypePrefix + code, Title: ci.title, Status: ci.status, Code: code,
		Instance: r.URL.Path, RequestID: RequestID(r.Context()), ExecutionID: e.ExecutionID,
		ConversationID: e.ConversationID}
	if ci.internal {
		p.Detail = "an internal error occurred; quote the request id when reporting it"
	} else {
		p.Detail, p.Errors = e.Message, e.Errors
	}
	return p
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p *Problem) {
	b, err := json.Marshal(p)
	if err != nil { // a Problem is plain strings and ints
		b = []byte(`{"type":"` + ProblemTypePrefix + `internal","title":"Internal error","status":500,"code":"internal"}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		Fail(w, r, &Error{Code: CodeInternal, Err: err})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Logger returns the request's logger: the configured one with the request id.
func Logger(ctx context.Context) *slog.Logger {
	if ri := reqInfo(ctx); ri != nil && ri.log != nil {
		return ri.log
	}
	return slog.Default()
}
