package chat

import (
	"errors"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
)

// Problem maps an executor error to the *httpcore.Error that httpapi.Fail writes:
// a PreparationError's field or workflow problems become errors[], a run that
// started names its execution and conversation, and internal failures (storage,
// internal) keep their cause for the log but show clients only the generic text.
func Problem(err error, res *executor.Result) *httpcore.Error {
	var pe *executor.PreparationError
	var re *executor.RuntimeError
	var ce *executor.CancelledError
	var e *httpcore.Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &pe):
		e = &httpcore.Error{Code: pe.Code, Message: pe.Message, Err: err}
		for _, p := range pe.Problems {
			e.Errors = append(e.Errors, httpcore.FieldError{Field: p.Pointer, Code: p.Code, Message: p.Message})
		}
		if len(e.Errors) == 0 && pe.Field != "" {
			e.Errors = []httpcore.FieldError{{Field: pe.Field, Code: pe.Code, Message: pe.Message}}
		}
	case errors.As(err, &re):
		e = &httpcore.Error{Code: re.Code, Message: executor.PublicMessage(err), Err: err}
	case errors.As(err, &ce):
		e = &httpcore.Error{Code: ce.Code, Message: ce.Message, Err: err}
	default:
		e = &httpcore.Error{Code: errcode.Internal, Err: err}
	}
	if res != nil {
		e.ExecutionID, e.ConversationID = res.ExecutionID, res.ConversationID
	}
	return e
}
