// Package errcode is the one list of chatter's error codes — the `code` of every
// problem+json answer, stream error frame, execution record and event — with each
// code's HTTP status and title. It imports nothing, so every package (the store, the
// executor, the HTTP layer, the expression sandbox, the CLI) takes its codes from
// here; none declares a code string of its own. Two kinds of codes live elsewhere on
// purpose: workflow validation problem codes (internal/workflow: what is wrong with a
// graph, listed inside an invalid_workflow problem) and a provider failure's
// classification (llm.ErrorCode: rate_limited, unavailable, …, carried beside
// llm_error).
package errcode

import "net/http"

// Request codes: the caller is at fault unless noted.
const (
	// InvalidInput: a bad body, field, query parameter or cursor (422, the status of
	// the predecessor's contract).
	InvalidInput         = "invalid_input"
	InvalidWorkflow      = "invalid_workflow"
	UnknownProvider      = "unknown_provider"
	ProviderUnconfigured = "provider_unconfigured"
	UnknownTool          = "unknown_tool"
	UnsupportedSource    = "unsupported_source"
	Unauthorized         = "unauthorized"
	NotFound             = "not_found"
	MethodNotAllowed     = "method_not_allowed"
	Conflict             = "conflict"
	TooLarge             = "too_large"
	// UnsupportedMediaType: an uploaded file of a type chatter does not extract
	// (415).
	UnsupportedMediaType = "unsupported_media_type"
	RateLimited          = "rate_limited"
)

// Run-time codes of an execution.
const (
	LLM        = "llm_error"
	NodeFailed = "node_failed"
	Condition  = "condition_error"
	// ExpressionBudget: a user expression exceeded a budget of one evaluation (steps,
	// bytes, elements or time; see userexpr). The expression is at fault; the run fails
	// whatever error handlers it has, since a retry would do the same.
	ExpressionBudget = "expression_budget_exceeded"
	StepLimit        = "step_limit_exceeded"
	Timeout          = "timeout"
	Cancelled        = "cancelled"
	Disconnected     = "client_disconnected"
	// ConversationDeleted: the conversation was deleted while its turn ran; the reply
	// was not kept.
	ConversationDeleted = "conversation_deleted"
)

// Service codes: chatter is at fault.
const (
	Internal    = "internal"
	Storage     = "storage_error"
	Unavailable = "unavailable"
)

// StatusClientClosed is the status recorded for a run the client abandoned (nginx's
// 499); the client never reads it, but the access log and metrics do.
const StatusClientClosed = 499

// Info is what a code means on the wire.
type Info struct {
	Status int
	Title  string
	// Internal codes are logged in full and shown to clients with the title only.
	Internal bool
}

// table is the one map from code to status. provider_unconfigured is a 400, not a
// 503: the condition lasts until an operator adds the missing key, so a client
// retry cannot help, while choosing another provider (named in the detail) can.
var table = map[string]Info{
	InvalidInput:         {http.StatusUnprocessableEntity, "Invalid input", false},
	InvalidWorkflow:      {http.StatusBadRequest, "Invalid workflow", false},
	UnknownProvider:      {http.StatusBadRequest, "Unknown provider", false},
	ProviderUnconfigured: {http.StatusBadRequest, "Provider not configured", false},
	UnknownTool:          {http.StatusBadRequest, "Unknown tool", false},
	UnsupportedSource:    {http.StatusBadRequest, "Unsupported source", false},
	Unauthorized:         {http.StatusUnauthorized, "Unauthorized", false},
	NotFound:             {http.StatusNotFound, "Not found", false},
	MethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed", false},
	Conflict:             {http.StatusConflict, "Conflict", false},
	TooLarge:             {http.StatusRequestEntityTooLarge, "Request too large", false},
	UnsupportedMediaType: {http.StatusUnsupportedMediaType, "Unsupported media type", false},
	RateLimited:          {http.StatusTooManyRequests, "Too many requests", false},
	LLM:                  {http.StatusBadGateway, "Model provider failed", false},
	NodeFailed:           {http.StatusUnprocessableEntity, "Workflow node failed", false},
	Condition:            {http.StatusUnprocessableEntity, "Workflow condition failed", false},
	ExpressionBudget:     {http.StatusUnprocessableEntity, "Workflow expression exceeded its budget", false},
	StepLimit:            {http.StatusUnprocessableEntity, "Workflow step limit exceeded", false},
	Timeout:              {http.StatusGatewayTimeout, "Run timed out", false},
	Cancelled:            {StatusClientClosed, "Run cancelled", false},
	Disconnected:         {StatusClientClosed, "Client went away", false},
	ConversationDeleted:  {http.StatusGone, "Conversation deleted", false},
	Unavailable:          {http.StatusServiceUnavailable, "Service unavailable", true},
	Storage:              {http.StatusInternalServerError, "Internal error", true},
	Internal:             {http.StatusInternalServerError, "Internal error", true},
}

// Of returns what code means; an unknown code is internal.
func Of(code string) Info {
	if i, ok := table[code]; ok {
		return i
	}
	return table[Internal]
}

// Known reports whether code is one of the list.
func Known(code string) bool { _, ok := table[code]; return ok }

// All returns every code, for documentation and tests.
func All() []string {
	out := make([]string, 0, len(table))
	for c := range table {
		out = append(out, c)
	}
	return out
}
