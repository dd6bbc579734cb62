package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/chatterhq/chatter/internal/llm"
)

// classify turns whatever the SDK reported into an *llm.Error. resp is the HTTP
// response when one arrived; it carries the status even when the SDK could not
// parse the error body (an HTML 502 from a proxy, say).
func (p *Provider) classify(ctx context.Context, resp *http.Response, err error) *llm.Error {
	if ce := llm.ContextError(p.name, ctx.Err()); ce != nil {
		return ce
	}
	if ce := llm.ContextError(p.name, err); ce != nil {
		return ce
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return withRetryAfter(p.statusError(apiErr.StatusCode, apiErr.Message, err), apiErr.Response)
	}
	if resp != nil && resp.StatusCode >= 400 {
		return withRetryAfter(p.statusError(resp.StatusCode, "", err), resp)
	}
	var streamErr *ssestream.StreamError
	if errors.As(err, &streamErr) {
		return p.inStreamError(streamErr.Event.Data, err)
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) {
		return &llm.Error{Provider: p.name, Code: llm.CodeMalformed, Message: "undecodable chunk: " + p.redact(err.Error()), Err: err}
	}
	// What is left is transport: refused connections, resets, a body cut short.
	what := "request failed: "
	if resp != nil {
		what = "stream interrupted: "
	}
	return &llm.Error{Provider: p.name, Code: llm.CodeUnavailable, Message: what + p.redact(err.Error()), Err: err}
}

func (p *Provider) statusError(status int, msg string, err error) *llm.Error {
	code := llm.CodeForStatus(status)
	if msg == "" {
		msg = http.StatusText(status)
	}
	// err is kept for errors.As by callers who need the SDK's detail; its Error()
	// prints only the status, so it cannot leak the key either.
	return &llm.Error{Provider: p.name, Code: code, Status: status, Message: p.redact(msg), Err: err}
}

// withRetryAfter keeps the wait an error response asked for (Retry-After).
func withRetryAfter(e *llm.Error, resp *http.Response) *llm.Error {
	if resp != nil {
		e.RetryAfter = llm.ParseRetryAfter(resp.Header, time.Now())
	}
	return e
}

// inStreamError classifies an error object sent as an SSE frame after the 200
// status, as OpenAI, vLLM and Ollama do when generation fails midway. Its shape is
// {"error":{"message","type","code"}}, where code is a string, a number or null.
func (p *Provider) inStreamError(data []byte, err error) *llm.Error {
	var frame struct {
		Error struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &frame) // best effort: the SDK already found "error"
	e := frame.Error
	kind := strings.ToLower(e.Type + " " + strings.Trim(string(e.Code), `"`))
	status, _ := strconv.Atoi(string(e.Code))
	code := llm.CodeModel
	switch {
	case status == http.StatusTooManyRequests || strings.Contains(kind, "rate_limit"):
		code = llm.CodeRateLimited
	case status >= 500 || strings.Contains(kind, "server_error") || strings.Contains(kind, "overloaded") || strings.Contains(kind, "unavailable"):
		code = llm.CodeUnavailable
	case status == http.StatusUnauthorized || status == http.StatusForbidden || strings.Contains(kind, "authentication") || strings.Contains(kind, "invalid_api_key"):
		code = llm.CodeAuth
	case status == http.StatusBadRequest || strings.Contains(kind, "invalid_request"):
		code = llm.CodeInvalidRequest
	}
	msg := e.Message
	if msg == "" {
		msg = "error in stream"
	}
	return &llm.Error{Provider: p.name, Code: code, Message: p.redact(msg), Err: err}
}

// redact removes the configured key and anything shaped like an OpenAI key from
// text that ends up in errors (OpenAI's own 401 message quotes part of the key).
func (p *Provider) redact(s string) string {
	if len(p.apiKey) >= 8 {
		s = strings.ReplaceAll(s, p.apiKey, "[redacted]")
	}
	for from := 0; ; {
		i := strings.Index(s[from:], "sk-")
		if i < 0 {
			return s
		}
		i += from
		if i > 0 && isKeyByte(s[i-1]) { // "task-", "disk-": not a key
			from = i + 3
			continue
		}
		j := i + 3
		for j < len(s) && isKeyByte(s[j]) {
			j++
		}
		s = s[:i] + "[redacted]" + s[j:]
		from = i + len("[redacted]")
	}
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*'
}
