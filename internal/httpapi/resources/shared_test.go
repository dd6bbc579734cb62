package resources_test

import (
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/workflow"
)

// One user's template override is that user's run only: another user reading the
// built-in (alone and in the list) sees its own values, after a valid override as
// after an invalid one, and an invalid one is a 422 naming the param.
func TestTemplates_ExecuteOverrideDoesNotChangeTheBuiltinForOthers(t *testing.T) {
	e := newEnv(t, envOpts{})
	path := "/api/v1/workflows/templates/code_assistant/execute"
	if r := e.post(t, "alice", path, `{"message":"hi","params":{"temperature":1.95,"allowed_tools":["calculator"]}}`); r.StatusCode != 200 {
		t.Fatalf("override run: %d %s", r.StatusCode, r.body)
	}
	r := e.post(t, "alice", path, `{"message":"hi","params":{"temperature":9}}`)
	if p := r.problem(t); r.StatusCode != 422 || p.Code != "invalid_input" || len(p.Errors) != 1 ||
		p.Errors[0].Field != "/params/temperature" || !strings.Contains(p.Detail, "temperature") {
		t.Errorf("invalid override: %d %s, want 422 invalid_input naming /params/temperature", r.StatusCode, r.body)
	}
	check := func(where string, tpl workflow.Template) {
		t.Helper()
		if tpl.Params.Temperature == nil || *tpl.Params.Temperature != 0.2 ||
			strings.Join(tpl.Params.AllowedTools, ",") != "calculator,current_time" {
			t.Errorf("%s: bob reads code_assistant params %+v, want temperature 0.2 and both tools", where, tpl.Params)
		}
	}
	var one workflow.Template
	e.get(t, "bob", "/api/v1/workflows/templates/code_assistant").json(t, &one)
	check("GET template", one)
	var list struct{ Items []workflow.Template }
	e.get(t, "bob", "/api/v1/workflows/templates").json(t, &list)
	for _, tpl := range list.Items {
		if tpl.Name == "code_assistant" {
			check("GET templates", tpl)
		}
	}
	if r := e.post(t, "bob", path, `{"message":"hi"}`); r.StatusCode != 200 {
		t.Errorf("the built-in after a bad override: %d %s", r.StatusCode, r.body)
	}
}

// Calls past max_tool_calls reach the client marked skipped, in the chat answer, in
// the stream and in the execution detail, each checked against the OpenAPI document.
func TestExecutions_CallsPastMaxToolCallsAreShownSkipped(t *testing.T) {
	e := newEnv(t, envOpts{})
	body := `{"message":"/tool calculator {\"expression\":\"1+1\"} ; /tool calculator {\"expression\":\"2+2\"} ; /tool current_time",` +
		`"workflow_template_name":"code_assistant","max_tool_calls":1}`
	cr := e.chat(t, "alice", body)
	if len(cr.ToolCalls) != 3 || cr.ToolCalls[0].Skipped != "" || cr.ToolCalls[0].Result != "2" ||
		cr.ToolCalls[1].Skipped != store.SkippedMaxToolCalls || cr.ToolCalls[2].Skipped != store.SkippedMaxToolCalls {
		t.Fatalf("chat tool calls = %+v, want the first run and two skipped", cr.ToolCalls)
	}
	var d wire.ExecutionDetail
	e.get(t, "alice", "/api/v1/executions/"+cr.ExecutionID).json(t, &d)
	if tcs := d.OutputData.ToolCalls; len(tcs) != 3 || tcs[1].Skipped != store.SkippedMaxToolCalls || !tcs[1].IsError {
		t.Errorf("execution tool calls = %+v, want the second skipped", tcs)
	}
	r := e.do(t, "POST", "alice", "/api/v1/workflows/execute/chat/streaming", body)
	skipped := 0
	for _, line := range strings.Split(string(r.body), "\n") {
		if strings.Contains(line, `"type":"tool_result"`) && strings.Contains(line, `"skipped":"max_tool_calls"`) {
			skipped++
		}
	}
	if r.StatusCode != 200 || skipped != 2 {
		t.Errorf("stream: %d with %d skipped tool_result frames, want two:\n%s", r.StatusCode, skipped, r.body)
	}
}
