package anthropic

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/shared"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/text"
)

var errTruncated = errors.New("stream ended before message_stop")

// classify turns whatever the SDK or the transport returned into an *llm.Error.
// API errors are not wrapped: the SDK's error holds the request, and with it the
// credentials, so only its type, message and request id are carried over.
func (p *Provider) classify(ctx context.Context, err error) *llm.Error {
	if ce := llm.ContextError(ProviderName, ctx.Err()); ce != nil {
		return ce
	}
	if ce := llm.ContextError(ProviderName, err); ce != nil {
		return ce
	}
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		return p.apiError(apiErr)
	}
	if errors.Is(err, errTruncated) {
		return &llm.Error{Provider: ProviderName, Code: llm.CodeUnavailable, Message: err.Error(), Err: err}
	}
	if isDecodeError(err) {
		return &llm.Error{Provider: ProviderName, Code: llm.CodeMalformed, Message: "undecodable stream frame: " + p.scrub(err.Error()), Err: err}
	}
	// What is left failed on the way: refused or reset connections, HTTP/2 stream
	// errors, unexpected EOF. Worth another attempt.
	return &llm.Error{Provider: ProviderName, Code: llm.CodeUnavailable, Message: p.scrub(err.Error()), Err: err}
}

// isDecodeError recognises the SDK's frame-decoding failures, which it returns
// unwrapped and partly as plain strings.
func isDecodeError(err error) bool {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) || errors.Is(err, bufio.ErrTooLong) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "apijson:") || strings.HasPrefix(msg, "received error while streaming:")
}

// apiError maps an HTTP error response or an in-stream `error` event. An error event
// arrives on a 200 response, so the error type decides first and the status second.
func (p *Provider) apiError(e *anthropic.Error) *llm.Error {
	if e.StatusCode == http.StatusOK && !json.Valid([]byte(e.RawJSON())) {
		return &llm.Error{Provider: ProviderName, Code: llm.CodeMalformed, Message: "undecodable error event: " + text.Shorten(p.scrub(e.RawJSON()), 200)}
	}
	code := codeForType(e.Type())
	if code == "" {
		code = llm.CodeForStatus(e.StatusCode)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if t := string(e.Type()); t != "" {
		msg = t + ": " + msg
	}
	if e.RequestID != "" {
		msg += " (request-id " + e.RequestID + ")"
	}
	status := e.StatusCode
	if status == http.StatusOK {
		status = 0 // an in-stream error; the 200 says nothing about it
	}
	out := &llm.Error{Provider: ProviderName, Code: code, Status: status, Message: p.scrub(msg)}
	if e.Response != nil && status != 0 {
		out.RetryAfter = llm.ParseRetryAfter(e.Response.Header, time.Now())
	}
	return out
}

func codeForType(t shared.ErrorType) llm.ErrorCode {
	switch t {
	case shared.ErrorTypeRateLimitError:
		return llm.CodeRateLimited
	case shared.ErrorTypeOverloadedError, shared.ErrorTypeAPIError, shared.ErrorTypeTimeoutError:
		return llm.CodeUnavailable
	case shared.ErrorTypeAuthenticationError, shared.ErrorTypePermissionError:
		return llm.CodeAuth
	case shared.ErrorTypeInvalidRequestError, shared.ErrorTypeNotFoundError, shared.ErrorTypeBillingError:
		return llm.CodeInvalidRequest
	}
	return ""
}

// scrub keeps the API key out of error text even if a server or proxy echoes it.
func (p *Provider) scrub(s string) string {
	if p.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, p.apiKey, "[redacted]")
}
