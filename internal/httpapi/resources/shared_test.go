package resources_test

import (
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/workflow"
)

// One user's template override is that user's run only: another user reading the
// built-in (alone and in the list) sees its own values, after a valid override as
// after an invalid one, and an invalid one is a 400 naming the param.
func TestTemplates_ExecuteOverrideDoesNotChangeTheBuiltinForOthers(t *testing.T) {
	e := newEnv(t, envOpts{})
	path := "/api/v1/workflows/templates/code_assistant/execute"
	if r := e.post(t, "alice", path, `{"message":"hi","params":{"temperature":1.95,"allowed_tools":["calculator"]}}`); r.StatusCode != 200 {
		t.Fatalf("override run: %d %s", r.StatusCode, r.body)
	}
	r := e.post(t, "alice", path, `{"message":"hi","params":{"temperature":9}}`)
	if p := r.problem(t); r.StatusCode != 400 || p.Code != "invalid_input" || len(p.Errors) != 1 ||
		p.Errors[0].Field != "/params/temperature" || !strings.Contains(p.Detail, "temperature") {
		t.Errorf("invalid override: %d %s, want 400 invalid_input naming /params/temperature", r.StatusCode, r.body)
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
