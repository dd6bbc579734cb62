package executor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

func TestExecute_PreparationErrors(t *testing.T) {
	temp := 3.0
	tests := []struct {
		name      string
		req       func() executor.Request
		wantCode  string
		wantField string
	}{
		{"empty message", func() executor.Request { return template("general_chat", " \n\t") }, errcode.InvalidInput, "message"},
		{"missing user", func() executor.Request {
			r := template("general_chat", "hi")
			r.Input.UserID = ""
			return r
		}, errcode.InvalidInput, "user_id"},
		{"message over the cap", func() executor.Request {
			return template("general_chat", strings.Repeat("a", store.DefaultMaxContentBytes+1))
		}, errcode.TooLarge, "message"},
		{"invalid UTF-8", func() executor.Request { return template("general_chat", "bad \xff byte") }, errcode.InvalidInput, "message"},
		{"unknown provider in request", func() executor.Request {
			r := template("general_chat", "hi")
			r.Input.Config.Provider = "nope"
			return r
		}, errcode.UnknownProvider, "provider"},
		{"unknown provider in node", func() executor.Request {
			d := def([]workflow.Node{node("start", "start", ""), node("llm", "llm", `{"provider":"nope"}`)}, edge("start", "llm"), edge("llm", "END"))
			return inline(d, "hi")
		}, errcode.UnknownProvider, "nodes/llm/provider"},
		{"unknown template", func() executor.Request { return template("no_such_template", "hi") }, errcode.NotFound, "template"},
		{"unknown definition", func() executor.Request {
			return executor.Request{Source: executor.Source{Kind: executor.SourceDefinition, ID: "missing"},
				Input: executor.Input{Message: "hi", UserID: userA}}
		}, errcode.NotFound, "definition"},
		{"another user's definition", func() executor.Request {
			return executor.Request{Source: executor.Source{Kind: executor.SourceDefinition, ID: "def-of-b"},
				Input: executor.Input{Message: "hi", UserID: userA}}
		}, errcode.NotFound, "definition"},
		{"missing inline definition", func() executor.Request {
			return executor.Request{Source: executor.Source{Kind: executor.SourceInline}, Input: executor.Input{Message: "hi", UserID: userA}}
		}, errcode.InvalidInput, "definition"},
		{"unknown source kind", func() executor.Request {
			return executor.Request{Source: executor.Source{Kind: "telepathy"}, Input: executor.Input{Message: "hi", UserID: userA}}
		}, errcode.UnsupportedSource, "source"},
		{"unknown allowed tool", func() executor.Request {
			r := template("code_assistant", "hi")
			r.Input.Config.AllowedTools = []string{"calculator", "teleport"}
			return r
		}, errcode.UnknownTool, "allowed_tools"},
		{"temperature out of range", func() executor.Request {
			r := template("general_chat", "hi")
			r.Input.Config.Temperature = &temp
			return r
		}, errcode.InvalidInput, "temperature"},
		{"max_tool_calls out of range", func() executor.Request {
			r := template("general_chat", "hi")
			r.Input.Config.MaxToolCalls = 51
			return r
		}, errcode.InvalidInput, "max_tool_calls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			err := h.store.PutDefinition(context.Background(), &store.Definition{ID: "def-of-b", UserID: userB, Graph: *chatDef()})
			if err != nil {
				t.Fatal(err)
			}
			req := tt.req()
			req.ExecutionID = "exec-prep"
			res, err := h.exec(t, req, nil)
			pe, ok := errAs[*executor.PreparationError](err)
			if !ok {
				t.Fatalf("err = %v (%T), want *PreparationError", err, err)
			}
			if pe.Code != tt.wantCode || pe.Field != tt.wantField {
				t.Errorf("error = %s/%s (%v), want %s/%s", pe.Code, pe.Field, pe, tt.wantCode, tt.wantField)
			}
			if pe.Message == "" || executor.PublicMessage(err) != pe.Message {
				t.Errorf("message = %q, public %q", pe.Message, executor.PublicMessage(err))
			}
			if res != nil {
				t.Errorf("result = %+v, want nil", res)
			}
			if _, err := h.store.GetExecution(context.Background(), req.Input.UserID, "exec-prep"); err == nil {
				t.Errorf("an execution record was stored")
			}
		})
	}
}

func TestExecute_OwnDefinitionRuns(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.store.PutDefinition(context.Background(), &store.Definition{ID: "mine", UserID: userA, Graph: *chatDef()}); err != nil {
		t.Fatal(err)
	}
	res := h.mustRun(t, executor.Request{Source: executor.Source{Kind: executor.SourceDefinition, ID: "mine"},
		Input: executor.Input{Message: "hi", UserID: userA}}, nil)
	if res.Source.Kind != "definition" || res.Source.ID != "mine" || res.Source.Version != 1 {
		t.Errorf("Source = %+v, want definition mine v1", res.Source)
	}
}

func TestExecute_InvalidInlineGraphReportsProblems(t *testing.T) {
	h := newHarness(t, nil)
	d := def([]workflow.Node{node("start", "start", ""), node("llm", "llm", `{"temperature":9}`)},
		edge("start", "llm"), edge("llm", "ghost"), condEdge("start", "llm", "this is ((( not an expression"))
	_, err := h.exec(t, inline(d, "hi"), nil)
	pe, ok := errAs[*executor.PreparationError](err)
	if !ok || pe.Code != errcode.InvalidWorkflow {
		t.Fatalf("err = %v, want invalid_workflow", err)
	}
	codes := map[string]bool{}
	for _, p := range pe.Problems {
		codes[p.Code] = true
		if p.Pointer == "" {
			t.Errorf("problem without pointer: %+v", p)
		}
	}
	for _, want := range []string{workflow.CodeInvalidConfig, workflow.CodeDanglingEdge, workflow.CodeInvalidCondition} {
		if !codes[want] {
			t.Errorf("problems %+v lack %s", pe.Problems, want)
		}
	}
}

func TestExecute_InlineGraphNamingAnUnknownToolIsInvalid(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.exec(t, inline(toolLoopDef(`{"allowed_tools":["teleport"]}`), "hi"), nil)
	pe, ok := errAs[*executor.PreparationError](err)
	if !ok || pe.Code != errcode.InvalidWorkflow || len(pe.Problems) == 0 || pe.Problems[0].Code != workflow.CodeUnknownTool {
		t.Fatalf("err = %+v, want invalid_workflow with unknown_tool", err)
	}
}

func TestExecute_UnavailableProviderNamesWhatIsMissing(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) { o.Unavailable = map[string]string{"openai": "OPENAI_API_KEY is not set"} })
	tests := []struct {
		provider, wantCode string
	}{
		{"openai", errcode.ProviderUnconfigured},
		{"mystery", errcode.UnknownProvider},
	}
	for _, tt := range tests {
		req := template("general_chat", "hi")
		req.Input.Config.Provider = tt.provider
		_, err := h.exec(t, req, nil)
		pe, ok := errAs[*executor.PreparationError](err)
		if !ok || pe.Code != tt.wantCode || pe.Field != "provider" {
			t.Errorf("%s: err = %v, want %s on provider", tt.provider, err, tt.wantCode)
		}
		if tt.wantCode == errcode.ProviderUnconfigured && !strings.Contains(pe.Message, "OPENAI_API_KEY") {
			t.Errorf("message = %q, want the reason", pe.Message)
		}
	}
}
