package executor

import (
	"errors"
	"fmt"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/userexpr"
	"github.com/chatterhq/chatter/internal/workflow"
)

// PreparationError is a failure before the run started: bad input, unknown source,
// invalid graph, unknown provider or tool. Nothing was stored.
type PreparationError struct {
	Code     string
	Field    string // the request field at fault, when there is one
	Message  string
	Problems []workflow.Problem // for invalid_workflow
	Err      error
}

func (e *PreparationError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

func (e *PreparationError) Unwrap() error { return e.Err }

// RuntimeError is a failure while the graph ran. What was produced is stored, marked
// incomplete.
type RuntimeError struct {
	Code    string
	NodeID  string
	Message string
	// LLMCode is the provider error code when Code is llm_error.
	LLMCode llm.ErrorCode
	Err     error
}

func (e *RuntimeError) Error() string {
	if e.NodeID != "" {
		return fmt.Sprintf("%s at node %q: %s", e.Code, e.NodeID, e.Message)
	}
	return e.Code + ": " + e.Message
}

func (e *RuntimeError) Unwrap() error { return e.Err }

// conditionError is a failed condition as the run's error, naming the node (and,
// in the message, the edge) it belongs to.
func conditionError(nodeID string, err error) *RuntimeError {
	code := errcode.Condition
	var be *userexpr.BudgetError
	if errors.As(err, &be) {
		code = errcode.ExpressionBudget
	}
	return &RuntimeError{Code: code, NodeID: nodeID, Message: err.Error(), Err: err}
}

// CancelledError means the run was cancelled (a cancel request, the caller's
// context, or the client went away). What was produced is stored, marked
// incomplete.
type CancelledError struct {
	Code    string // cancelled | client_disconnected
	Message string
	// By names the user whose cancel request (POST /executions/{id}/cancel) ended
	// the run; empty otherwise.
	By  string
	Err error
}

// cancelRequest is why a run was cancelled when its record asked for it
// (store.RequestCancel): the run keeps it (run.cancelReq) and cancels its context.
type cancelRequest struct{ by string }

func (c *cancelRequest) Error() string { return "cancel requested by " + c.by }

func (e *CancelledError) Error() string { return e.Code + ": " + e.Message }
func (e *CancelledError) Unwrap() error { return e.Err }

// asErr is errors.As for one error type, the zero T when err is not one. Its
// target is declared past the nil check: a run that ended well allocates none (a
// target given to errors.As escapes).
func asErr[T error](err error) T {
	var zero T
	if err == nil {
		return zero
	}
	var t T
	errors.As(err, &t)
	return t
}

// ErrorCode returns the stable code of any executor error, or "internal".
func ErrorCode(err error) string {
	var pe *PreparationError
	var re *RuntimeError
	var ce *CancelledError
	switch {
	case errors.As(err, &pe):
		return pe.Code
	case errors.As(err, &re):
		return re.Code
	case errors.As(err, &ce):
		return ce.Code
	}
	return errcode.Internal
}

// PublicMessage is an error message safe to show a client: internal errors are
// replaced by a generic text, and a long message is cut to what a record keeps.
func PublicMessage(err error) string {
	var pe *PreparationError
	var re *RuntimeError
	var ce *CancelledError
	msg := "internal error"
	switch {
	case errors.As(err, &pe):
		msg = pe.Message
	case errors.As(err, &re):
		if re.Code != errcode.Storage && re.Code != errcode.Internal {
			msg = re.Message
		}
	case errors.As(err, &ce):
		msg = ce.Message
	}
	return text.Shorten(msg, store.MaxErrorBytes)
}
