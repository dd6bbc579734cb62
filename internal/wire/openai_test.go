package wire_test

import (
	"net/http"
	"testing"

	"github.com/chatterhq/chatter/internal/wire"
)

func TestOpenAIErrorOf_StatusTypeCodeAndParamAsOpenAIWritesThem(t *testing.T) {
	for _, tc := range []struct {
		name        string
		p           wire.Problem
		status      int
		typ, code   string
		param, mess string
	}{
		{"invalid input is a 400", wire.Problem{Status: 422, Code: "invalid_input", Detail: "n must be 1",
			Errors: []wire.FieldError{{Field: "n", Code: "invalid_input"}}}, 400, "invalid_request_error", "invalid_input", "n", "n must be 1"},
		{"pointer becomes a dotted param", wire.Problem{Status: 422, Code: "invalid_input", Detail: "d",
			Errors: []wire.FieldError{{Field: "/messages/0/content", Code: "invalid_input"}}}, 400, "invalid_request_error", "invalid_input", "messages.0.content", "d"},
		{"a field's own code wins", wire.Problem{Status: 404, Code: "not_found", Detail: "no such model",
			Errors: []wire.FieldError{{Field: "model", Code: "model_not_found"}}}, 404, "invalid_request_error", "model_not_found", "model", "no such model"},
		{"401 is invalid_api_key", wire.Problem{Status: 401, Code: "unauthorized", Title: "Unauthorized"},
			401, "invalid_request_error", "invalid_api_key", "", "Unauthorized"},
		{"429 is a requests limit", wire.Problem{Status: 429, Code: "rate_limited", Detail: "slow down"},
			429, "requests", "rate_limit_exceeded", "", "slow down"},
		{"5xx is a server error", wire.Problem{Status: 502, Code: "llm_error", Detail: "provider failed"},
			502, "server_error", "llm_error", "", "provider failed"},
	} {
		status, body := wire.OpenAIErrorOf(&tc.p)
		e := body.Error
		param := ""
		if e.Param != nil {
			param = *e.Param
		}
		if status != tc.status || e.Type != tc.typ || e.Code == nil || *e.Code != tc.code || param != tc.param || e.Message != tc.mess {
			t.Errorf("%s: %d %+v (code %v param %q)", tc.name, status, e, e.Code, param)
		}
	}
	if s, _ := wire.OpenAIErrorOf(&wire.Problem{Status: http.StatusTeapot}); s != http.StatusTeapot {
		t.Errorf("other statuses pass through, got %d", s)
	}
}
