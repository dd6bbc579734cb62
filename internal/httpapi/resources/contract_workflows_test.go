package resources_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/workflow"
)

// Contract cases for the workflow operations (all but the execution and analytics
// reads): each sends a minimal and a full request built from the old request
// schema, checks what old clients rely on beyond the schema, and that another
// user gets a 404 or sees nothing. Bodies are JSON maps, as an old client builds
// them.

func init() {
	contractCases = append(contractCases, workflowCases...)
}

type obj = map[string]any

// body decodes a JSON object answer, failing on a status other than want.
func (r response) want(t *testing.T, status int) obj {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, r.body)
	}
	var m obj
	if len(r.body) > 0 && r.body[0] == '{' {
		r.json(t, &m)
	}
	return m
}

// wantField checks a problem answer: its status and the field its first error
// names ("": a problem about no one field, such as a record not found).
func (r response) wantField(t *testing.T, status int, field string) {
	t.Helper()
	p := r.problem(t)
	named := ""
	if len(p.Errors) > 0 {
		named = p.Errors[0].Field
	}
	if r.StatusCode != status || named != field {
		t.Fatalf("want %d naming %s, got %d %s", status, field, r.StatusCode, r.body)
	}
}

// oldNodes is a start -> model -> end graph as the old editor saves it: every
// field WorkflowNode documents, camel-case data keys.
func oldNodes() []obj {
	return []obj{
		{"id": "start", "type": "start", "position": obj{"x": 0, "y": 0}, "data": obj{"label": "Start", "nodeType": "start", "config": nil},
			"selected": false, "dragging": false},
		{"id": "model", "type": "model", "position": obj{"x": 200, "y": 0}, "selected": true, "dragging": nil,
			"data": obj{"label": "Model", "nodeType": "model", "config": obj{"temperature": 0.3, "system_prompt": "Be brief."}}},
		{"id": "end", "type": "end", "position": obj{"x": 400, "y": 0}, "data": obj{"label": "End", "nodeType": "end"}},
	}
}

func oldEdges() []obj {
	return []obj{
		{"id": "e1", "source": "start", "target": "model", "sourceHandle": nil, "targetHandle": nil, "type": "default",
			"data": obj{"condition": nil, "label": "go"}},
		{"id": "e2", "source": "model", "target": "end", "data": nil},
	}
}

// minimalDefinition is WorkflowDefinitionCreate's required fields only.
func minimalDefinition(name string) obj {
	return obj{"name": name, "nodes": []obj{
		{"id": "start", "type": "start", "position": obj{"x": 0, "y": 0}, "data": obj{"label": "Start", "nodeType": "start"}},
		{"id": "llm", "type": "llm", "position": obj{"x": 1, "y": 0}, "data": obj{"label": "LLM", "nodeType": "llm"}},
		{"id": "end", "type": "end", "position": obj{"x": 2, "y": 0}, "data": obj{"label": "End", "nodeType": "end"}},
	}, "edges": []obj{{"id": "a", "source": "start", "target": "llm"}, {"id": "b", "source": "llm", "target": "end"}}}
}

// fullDefinition sets every field WorkflowDefinitionCreate documents.
func fullDefinition(name string) obj {
	return obj{"name": name, "nodes": oldNodes(), "edges": oldEdges(), "metadata": obj{"team": "support"},
		"is_public": true, "tags": []string{"demo", "old-ui"}, "template_id": "general_chat"}
}

func (e *env) oldDefinition(t *testing.T, user string, body obj) string {
	t.Helper()
	d := e.old(t, "POST", user, "/api/v1/workflows/definitions", body).want(t, 200)
	return d["id"].(string)
}

// oldTemplate is a template body with every field WorkflowTemplateCreate documents.
func oldTemplate(name string) obj {
	return obj{"name": name, "description": "Answers with numbers.", "category": "custom",
		"default_params": obj{"system_message": "Use the calculator.", "temperature": 0.2, "max_tool_calls": 3,
			"enable_memory": true, "style": "terse"},
		"required_tools": []string{"calculator"}, "required_retrievers": []string{"vector"}, "tags": []string{"math"},
		"is_public": false, "workflow_definition_id": nil, "base_template_id": "general_chat"}
}

func (e *env) oldTemplateID(t *testing.T, user string, body obj) string {
	t.Helper()
	return e.old(t, "POST", user, "/api/v1/workflows/templates", body).want(t, 200)["id"].(string)
}

// oldChat is a chat request with every field ChatRequest documents, as the old UI
// sends it.
func oldChat(msg string) obj {
	return obj{"message": msg, "conversation_id": nil, "profile_id": "prof-1",
		"workflow_config":        obj{"temperature": 0.1, "max_tool_calls": 2, "memory_window": 6, "layout": "wide"},
		"workflow_definition_id": nil, "workflow_template_name": nil, "enable_retrieval": false, "enable_tools": true,
		"enable_memory": true, "enable_web_search": false, "provider": "devllm", "model": nil, "temperature": 0.5,
		"max_tokens": 512, "context_limit": 4000, "document_ids": nil, "prompt_id": "p-7",
		"system_prompt_override": "Answer briefly.", "enable_tracing": true}
}

func ids(list []any) []string {
	var out []string
	for _, x := range list {
		out = append(out, x.(obj)["id"].(string))
	}
	return out
}

var workflowCases = []contractCase{
	{"GET /api/v1/workflows/definitions", func(t *testing.T, e *env) {
		l := e.old(t, "GET", "alice", "/api/v1/workflows/definitions", nil).want(t, 200)
		if l["total_count"] != 0.0 || len(l["definitions"].([]any)) != 0 {
			t.Fatalf("empty list: %v", l)
		}
		a := e.oldDefinition(t, "alice", minimalDefinition("first"))
		b := e.oldDefinition(t, "alice", fullDefinition("second"))
		e.oldDefinition(t, "bob", minimalDefinition("bob's"))
		l = e.old(t, "GET", "alice", "/api/v1/workflows/definitions", nil).want(t, 200)
		got := ids(l["definitions"].([]any))
		slices.Sort(got)
		want := []string{a, b}
		slices.Sort(want)
		if l["total_count"] != 2.0 || !slices.Equal(got, want) {
			t.Fatalf("alice's list: %v", l)
		}
		// offset and limit page it; total_count still counts it all.
		p := e.old(t, "GET", "alice", "/api/v1/workflows/definitions?offset=1&limit=1", nil).want(t, 200)
		if p["total_count"] != 2.0 || len(p["definitions"].([]any)) != 1 || ids(p["definitions"].([]any))[0] != want[1] {
			t.Fatalf("offset 1: %v", p)
		}
		if b := e.old(t, "GET", "bob", "/api/v1/workflows/definitions", nil).want(t, 200); b["total_count"] != 1.0 {
			t.Fatalf("bob's list: %v", b)
		}
	}},
	{"POST /api/v1/workflows/definitions", func(t *testing.T, e *env) {
		min := e.old(t, "POST", "alice", "/api/v1/workflows/definitions", minimalDefinition("min")).want(t, 200)
		if min["owner_id"] != "alice" || min["version"] != 1.0 || min["is_public"] != false || min["metadata"] != nil {
			t.Fatalf("minimal: %v", min)
		}
		full := e.old(t, "POST", "alice", "/api/v1/workflows/definitions", fullDefinition("full")).want(t, 200)
		if full["template_id"] != "general_chat" || fmt.Sprint(full["tags"]) != "[demo old-ui]" ||
			full["metadata"].(obj)["team"] != "support" || full["is_public"] != false {
			t.Fatalf("full: %v", full)
		}
		// The old editor's model node and its config come back where the editor reads them.
		n := full["nodes"].([]any)[1].(obj)
		if n["type"] != "model" || n["data"].(obj)["nodeType"] != "model" || n["data"].(obj)["config"].(obj)["temperature"] != 0.3 {
			t.Fatalf("node: %v", n)
		}
		l := e.old(t, "GET", "alice", "/api/v1/workflows/definitions", nil).want(t, 200)
		if l["total_count"] != 2.0 {
			t.Fatalf("created definitions are not listed: %v", l)
		}
		// A field the old schema does not have is refused, naming it, and nothing is stored.
		bad := minimalDefinition("bad")
		bad["colour"] = "red"
		e.do(t, "POST", "alice", "/api/v1/workflows/definitions", mustJSON(t, bad)).wantField(t, 422, "colour")
		if e.get(t, "bob", "/api/v1/workflows/definitions/"+full["id"].(string)).StatusCode != 404 {
			t.Fatal("bob reads alice's definition")
		}
	}},
	{"POST /api/v1/workflows/definitions/from-template", func(t *testing.T, e *env) {
		d := e.old(t, "POST", "alice", "/api/v1/workflows/definitions/from-template", obj{"template_id": "general_chat"}).want(t, 200)
		if d["name"] != "general_chat" || d["template_id"] != "general_chat" || d["owner_id"] != "alice" {
			t.Fatalf("minimal: %v", d)
		}
		own := e.oldTemplateID(t, "alice", oldTemplate("numbers"))
		full := e.old(t, "POST", "alice", "/api/v1/workflows/definitions/from-template", obj{"template_id": own,
			"name_suffix": " (copy)", "user_input": obj{"temperature": 0.9, "color": "ignored"}, "is_temporary": false}).want(t, 200)
		if full["name"] != "numbers (copy)" || full["template_id"] != own {
			t.Fatalf("full: %v", full)
		}
		if !strings.Contains(mustJSON(t, full["nodes"]), `"temperature":0.9`) {
			t.Errorf("user_input did not override the temperature: %v", full["nodes"])
		}
		if l := e.old(t, "GET", "alice", "/api/v1/workflows/definitions", nil).want(t, 200); l["total_count"] != 2.0 {
			t.Errorf("from-template definitions are not listed: %v", l)
		}
		e.do(t, "POST", "bob", "/api/v1/workflows/definitions/from-template", `{"template_id":"`+own+`"}`).wantField(t, 404, "")
	}},
	{"GET /api/v1/workflows/definitions/{workflow_id}", func(t *testing.T, e *env) {
		id := e.oldDefinition(t, "alice", fullDefinition("mine"))
		d := e.old(t, "GET", "alice", "/api/v1/workflows/definitions/"+id, nil).want(t, 200)
		if d["id"] != id || d["name"] != "mine" || len(d["edges"].([]any)) != 2 || d["edges"].([]any)[0].(obj)["id"] != "e1" {
			t.Fatalf("%v", d)
		}
		if r := e.old(t, "GET", "bob", "/api/v1/workflows/definitions/"+id, nil); r.StatusCode != 404 {
			t.Fatalf("bob: %d", r.StatusCode)
		}
	}},
	{"PUT /api/v1/workflows/definitions/{workflow_id}", func(t *testing.T, e *env) {
		id := e.oldDefinition(t, "alice", fullDefinition("before"))
		path := "/api/v1/workflows/definitions/" + id
		// Minimal: nothing sent, nothing changes but the version.
		d := e.old(t, "PUT", "alice", path, obj{}).want(t, 200)
		if d["name"] != "before" || d["version"] != 2.0 || len(d["nodes"].([]any)) != 3 {
			t.Fatalf("empty update: %v", d)
		}
		// Only the name: the graph stays.
		d = e.old(t, "PUT", "alice", path, obj{"name": "renamed", "nodes": nil}).want(t, 200)
		if d["name"] != "renamed" || len(d["nodes"].([]any)) != 3 || d["metadata"].(obj)["team"] != "support" {
			t.Fatalf("name only: %v", d)
		}
		full := minimalDefinition("after")
		full["metadata"] = obj{"v": 3}
		d = e.old(t, "PUT", "alice", path, full).want(t, 200)
		if d["name"] != "after" || d["version"] != 4.0 || d["nodes"].([]any)[1].(obj)["id"] != "llm" || d["metadata"].(obj)["v"] != 3.0 {
			t.Fatalf("full: %v", d)
		}
		// An update that breaks the graph is refused whole (invalid_workflow, 400 as the
		// predecessor answered it); the stored one is unchanged.
		e.do(t, "PUT", "alice", path, `{"edges":[{"id":"x","source":"start","target":"nowhere"}]}`).wantField(t, 400, "/edges/0/target")
		e.do(t, "PUT", "bob", path, `{"name":"stolen"}`).wantField(t, 404, "")
		if g := e.old(t, "GET", "alice", path, nil).want(t, 200); g["name"] != "after" || g["version"] != 4.0 {
			t.Fatalf("after refused updates: %v", g)
		}
	}},
	{"DELETE /api/v1/workflows/definitions/{workflow_id}", func(t *testing.T, e *env) {
		id := e.oldDefinition(t, "alice", minimalDefinition("doomed"))
		if r := e.old(t, "DELETE", "bob", "/api/v1/workflows/definitions/"+id, nil); r.StatusCode != 404 {
			t.Fatalf("bob deletes alice's: %d", r.StatusCode)
		}
		d := e.old(t, "DELETE", "alice", "/api/v1/workflows/definitions/"+id, nil).want(t, 200)
		if d["workflow_id"] != id || d["message"] == "" {
			t.Fatalf("%v", d)
		}
		if r := e.old(t, "GET", "alice", "/api/v1/workflows/definitions/"+id, nil); r.StatusCode != 404 {
			t.Fatalf("after delete: %d", r.StatusCode)
		}
		if l := e.old(t, "GET", "alice", "/api/v1/workflows/definitions", nil).want(t, 200); l["total_count"] != 0.0 {
			t.Fatalf("still listed: %v", l)
		}
	}},
	{"POST /api/v1/workflows/definitions/validate", func(t *testing.T, e *env) {
		v := e.old(t, "POST", "alice", "/api/v1/workflows/definitions/validate", minimalDefinition("ok")).want(t, 200)
		if v["is_valid"] != true || len(v["errors"].([]any)) != 0 {
			t.Fatalf("valid: %v", v)
		}
		v = e.old(t, "POST", "alice", "/api/v1/workflows/definitions/validate", fullDefinition("ok")).want(t, 200)
		if v["is_valid"] != true {
			t.Fatalf("full: %v", v)
		}
		// The old contract takes any object here: unknown keys are warnings, a broken
		// graph is is_valid false with each error located.
		v = e.old(t, "POST", "alice", "/api/v1/workflows/definitions/validate", obj{"nodes": []obj{{"id": "s", "type": "start"}},
			"edges": []obj{{"source": "s", "target": "gone"}}, "layout": "grid"}).want(t, 200)
		errs, warns := v["errors"].([]any), v["warnings"].([]any)
		if v["is_valid"] != false || len(errs) == 0 || len(warns) != 1 || fmt.Sprint(warns[0].(obj)["loc"]) != "[layout]" {
			t.Fatalf("invalid: %v", v)
		}
		if !slices.ContainsFunc(errs, func(x any) bool { return fmt.Sprint(x.(obj)["loc"]) == "[edges 0 target]" }) {
			t.Errorf("no error located at edges/0/target: %v", errs)
		}
		if l := e.old(t, "GET", "alice", "/api/v1/workflows/definitions", nil).want(t, 200); l["total_count"] != 0.0 {
			t.Fatalf("validate stored something: %v", l)
		}
	}},
	{"POST /api/v1/workflows/definitions/{workflow_id}/execute", func(t *testing.T, e *env) {
		id := e.oldDefinition(t, "alice", fullDefinition("runner"))
		path := "/api/v1/workflows/definitions/" + id + "/execute"
		// The old minimal body has no message: a run needs one, and says where.
		e.do(t, "POST", "alice", path, `{"definition_id":"`+id+`"}`).wantField(t, 422, "/input_data/message")
		x := e.old(t, "POST", "alice", path, obj{"definition_id": id, "input_data": obj{"message": "hi"}}).want(t, 200)
		if x["definition_id"] != id || x["owner_id"] != "alice" || x["status"] != "completed" || x["debug_info"] != nil ||
			x["output_data"].(obj)["response"] == "" || x["id"] != x["execution_id"] {
			t.Fatalf("minimal: %v", x)
		}
		x = e.old(t, "POST", "alice", path, obj{"definition_id": id, "debug_mode": true,
			"input_data": obj{"message": "again", "lang": "en"}}).want(t, 200)
		if x["debug_info"] == nil || x["input_data"].(obj)["lang"] != "en" || x["tokens_used"] == 0.0 ||
			len(x["execution_log"].([]any)) == 0 {
			t.Fatalf("full: %v", x)
		}
		e.do(t, "POST", "alice", path, `{"definition_id":"other","input_data":{"message":"hi"}}`).wantField(t, 422, "definition_id")
		e.do(t, "POST", "bob", path, `{"definition_id":"`+id+`","input_data":{"message":"hi"}}`).wantField(t, 404, "definition")
	}},
	{"POST /api/v1/workflows/definitions/custom/execute", func(t *testing.T, e *env) {
		graph := obj{"nodes": oldNodes(), "edges": oldEdges()}
		x := e.old(t, "POST", "alice", "/api/v1/workflows/definitions/custom/execute?message=hello", graph).want(t, 200)
		sum, _ := x["execution_summary"].(obj)
		if x["response"] == "" || x["response"] != x["output_data"].(obj)["response"] || sum["nodes_executed"].(float64) < 3 {
			t.Fatalf("minimal: %v", x)
		}
		conv := x["conversation_id"].(string)
		q := url.Values{"message": {"more"}, "entry_point": {"start"}, "provider": {"devllm"}, "conversation_id": {conv}}
		x = e.old(t, "POST", "alice", "/api/v1/workflows/definitions/custom/execute?"+q.Encode(), graph).want(t, 200)
		if x["conversation_id"] != conv || x["status"] != "completed" {
			t.Fatalf("full: %v", x)
		}
		q.Set("entry_point", "nowhere")
		e.do(t, "POST", "alice", "/api/v1/workflows/definitions/custom/execute?"+q.Encode(), mustJSON(t, graph)).wantField(t, 422, "entry_point")
		q.Del("entry_point")
		e.do(t, "POST", "bob", "/api/v1/workflows/definitions/custom/execute?"+q.Encode(), mustJSON(t, graph)).wantField(t, 404, "conversation_id")
	}},
	{"GET /api/v1/workflows/templates", func(t *testing.T, e *env) {
		nb := float64(len(workflow.Builtins()))
		l := e.old(t, "GET", "alice", "/api/v1/workflows/templates", nil).want(t, 200)
		if l["total_count"] != nb || l["templates"].([]any)[0].(obj)["is_builtin"] != true {
			t.Fatalf("built-ins: %v", l)
		}
		own := e.oldTemplateID(t, "alice", oldTemplate("mine"))
		e.oldTemplateID(t, "bob", oldTemplate("bob's"))
		l = e.old(t, "GET", "alice", "/api/v1/workflows/templates?offset="+fmt.Sprint(nb), nil).want(t, 200)
		if l["total_count"] != nb+1 || fmt.Sprint(ids(l["templates"].([]any))) != "["+own+"]" {
			t.Fatalf("alice's own: %v", l)
		}
	}},
	{"POST /api/v1/workflows/templates", func(t *testing.T, e *env) {
		m := e.old(t, "POST", "alice", "/api/v1/workflows/templates", obj{"name": "plain", "description": "d"}).want(t, 200)
		if m["owner_id"] != "alice" || m["category"] != "custom" || m["is_builtin"] != false || m["config_hash"] == "" {
			t.Fatalf("minimal: %v", m)
		}
		f := e.old(t, "POST", "alice", "/api/v1/workflows/templates", oldTemplate("full")).want(t, 200)
		dp := f["default_params"].(obj)
		if dp["system_prompt"] != "Use the calculator." || dp["enable_tools"] != true || dp["enable_memory"] != true ||
			dp["style"] != "terse" || fmt.Sprint(f["required_tools"]) != "[calculator]" || f["base_template_id"] != "general_chat" ||
			fmt.Sprint(f["required_retrievers"]) != "[documents]" || fmt.Sprint(f["tags"]) != "[math]" {
			t.Fatalf("full: %v", f)
		}
		if l := e.old(t, "GET", "alice", "/api/v1/workflows/templates/"+f["id"].(string)+"/load", nil).want(t, 200); l["config_hash"] != f["config_hash"] {
			t.Fatalf("load differs: %v", l)
		}
		bad := oldTemplate("bad")
		bad["default_params"] = obj{"temperature": "hot"}
		e.do(t, "POST", "alice", "/api/v1/workflows/templates", mustJSON(t, bad)).wantField(t, 422, "/default_params/temperature")
		e.do(t, "POST", "alice", "/api/v1/workflows/templates", `{"name":"x","description":"d","colour":1}`).wantField(t, 422, "colour")
		if l := e.old(t, "GET", "bob", "/api/v1/workflows/templates", nil).want(t, 200); l["total_count"] != float64(len(workflow.Builtins())) {
			t.Fatalf("bob sees alice's templates: %v", l)
		}
	}},
	{"PUT /api/v1/workflows/templates/{template_id}", func(t *testing.T, e *env) {
		id := e.oldTemplateID(t, "alice", oldTemplate("t"))
		path := "/api/v1/workflows/templates/" + id
		before := e.old(t, "PUT", "alice", path, obj{}).want(t, 200)
		if before["name"] != "t" || before["default_params"].(obj)["style"] != "terse" {
			t.Fatalf("empty update: %v", before)
		}
		after := e.old(t, "PUT", "alice", path, obj{"name": "t2", "category": "math", "default_params": obj{"temperature": 0.7},
			"required_tools": nil, "required_retrievers": []string{}, "tags": []string{"x"}, "is_public": false}).want(t, 200)
		if after["name"] != "t2" || after["category"] != "math" || after["default_params"].(obj)["temperature"] != 0.7 ||
			after["default_params"].(obj)["style"] != nil || after["config_hash"] == before["config_hash"] {
			t.Fatalf("full: %v", after)
		}
		e.do(t, "PUT", "bob", path, `{"name":"stolen"}`).wantField(t, 404, "")
		e.do(t, "PUT", "alice", "/api/v1/workflows/templates/general_chat", `{"name":"mine"}`).wantField(t, 409, "id")
	}},
	{"DELETE /api/v1/workflows/templates/{template_id}", func(t *testing.T, e *env) {
		id := e.oldTemplateID(t, "alice", oldTemplate("gone"))
		if r := e.old(t, "DELETE", "bob", "/api/v1/workflows/templates/"+id, nil); r.StatusCode != 404 {
			t.Fatalf("bob: %d", r.StatusCode)
		}
		d := e.old(t, "DELETE", "alice", "/api/v1/workflows/templates/"+id, nil).want(t, 200)
		if d["workflow_id"] != id || d["message"] == "" {
			t.Fatalf("%v", d)
		}
		if r := e.old(t, "GET", "alice", "/api/v1/workflows/templates/"+id+"/load", nil); r.StatusCode != 404 {
			t.Fatalf("after delete: %d", r.StatusCode)
		}
	}},
	{"GET /api/v1/workflows/templates/{template_id}/export", func(t *testing.T, e *env) {
		x := e.old(t, "GET", "alice", "/api/v1/workflows/templates/general_chat/export", nil).want(t, 200)
		if x["export_format"] != "json" || x["template"].(obj)["name"] != "general_chat" || x["exported_at"] == "" {
			t.Fatalf("%v", x)
		}
		id := e.oldTemplateID(t, "alice", oldTemplate("mine"))
		if r := e.old(t, "GET", "bob", "/api/v1/workflows/templates/"+id+"/export", nil); r.StatusCode != 404 {
			t.Fatalf("bob exports alice's: %d", r.StatusCode)
		}
	}},
	{"POST /api/v1/workflows/templates/import", func(t *testing.T, e *env) {
		id := e.oldTemplateID(t, "alice", oldTemplate("orig"))
		exp := e.old(t, "GET", "alice", "/api/v1/workflows/templates/"+id+"/export", nil).want(t, 200)
		imp := e.old(t, "POST", "bob", "/api/v1/workflows/templates/import", obj{"template": exp["template"]}).want(t, 200)
		if imp["id"] == id || imp["owner_id"] != "bob" || imp["name"] != "orig" || imp["config_hash"] != exp["template"].(obj)["config_hash"] {
			t.Fatalf("minimal: %v", imp)
		}
		full := e.old(t, "POST", "bob", "/api/v1/workflows/templates/import", obj{"template": exp["template"],
			"override_name": "orig", "merge_with_existing": true}).want(t, 200)
		if full["id"] != imp["id"] {
			t.Fatalf("merge_with_existing made a new template: %v", full)
		}
		if l := e.old(t, "GET", "bob", "/api/v1/workflows/templates", nil).want(t, 200); l["total_count"] != float64(len(workflow.Builtins())+1) {
			t.Fatalf("bob's templates: %v", l)
		}
		// The import is bob's: alice's template is unchanged and bob's is not hers.
		if r := e.old(t, "GET", "alice", "/api/v1/workflows/templates/"+imp["id"].(string)+"/load", nil); r.StatusCode != 404 {
			t.Fatalf("alice reads bob's import: %d", r.StatusCode)
		}
	}},
	{"GET /api/v1/workflows/templates/{template_id}/load", func(t *testing.T, e *env) {
		l := e.old(t, "GET", "alice", "/api/v1/workflows/templates/code_assistant/load", nil).want(t, 200)
		if l["owner_id"] != "system" || l["is_builtin"] != true || l["required_tools"] == nil {
			t.Fatalf("built-in: %v", l)
		}
		id := e.oldTemplateID(t, "alice", oldTemplate("mine"))
		if g := e.old(t, "GET", "alice", "/api/v1/workflows/templates/"+id+"/load", nil).want(t, 200); g["id"] != id || g["owner_id"] != "alice" {
			t.Fatalf("own: %v", g)
		}
		if r := e.old(t, "GET", "bob", "/api/v1/workflows/templates/"+id+"/load", nil); r.StatusCode != 404 {
			t.Fatalf("bob: %d", r.StatusCode)
		}
	}},
	{"POST /api/v1/workflows/templates/validate", func(t *testing.T, e *env) {
		v := e.old(t, "POST", "alice", "/api/v1/workflows/templates/validate", obj{"template": obj{"name": "ok"}}).want(t, 200)
		if v["is_valid"] != true || v["template_info"] == nil {
			t.Fatalf("minimal: %v", v)
		}
		bad := oldTemplate("")
		bad["required_tools"] = []string{"laser"}
		bad["id"], bad["config_hash"] = "x", "y" // an export's read-only keys are taken as they come
		v = e.old(t, "POST", "alice", "/api/v1/workflows/templates/validate", obj{"template": bad}).want(t, 200)
		if v["is_valid"] != false || len(v["errors"].([]any)) != 2 {
			t.Fatalf("full: %v", v)
		}
	}},
	{"POST /api/v1/workflows/templates/{template_id}/execute", func(t *testing.T, e *env) {
		e.do(t, "POST", "alice", "/api/v1/workflows/templates/general_chat/execute", `{}`).wantField(t, 422, "/input_data/message")
		x := e.old(t, "POST", "alice", "/api/v1/workflows/templates/general_chat/execute",
			obj{"input_data": obj{"message": "hi"}, "debug_mode": true}).want(t, 200)
		if x["definition_id"] != "" || x["source"].(obj)["id"] != "general_chat" || x["debug_info"] == nil || x["status"] != "completed" {
			t.Fatalf("%v", x)
		}
		id := e.oldTemplateID(t, "alice", oldTemplate("mine"))
		e.do(t, "POST", "bob", "/api/v1/workflows/templates/"+id+"/execute", `{"input_data":{"message":"hi"}}`).wantField(t, 404, "template")
	}},
	{"POST /api/v1/workflows/templates/execute", func(t *testing.T, e *env) {
		e.do(t, "POST", "alice", "/api/v1/workflows/templates/execute", `{"template":{"name":"t"}}`).wantField(t, 422, "/input_data/message")
		x := e.old(t, "POST", "alice", "/api/v1/workflows/templates/execute", obj{"template": oldTemplate("inline"),
			"input_data": obj{"message": "hi"}, "debug_mode": false}).want(t, 200)
		if x["status"] != "completed" || x["source"].(obj)["kind"] != "inline" || x["definition_id"] != "" {
			t.Fatalf("%v", x)
		}
	}},
	{"GET /api/v1/workflows/node-types", func(t *testing.T, e *env) {
		r := e.old(t, "GET", "alice", "/api/v1/workflows/node-types", nil)
		var l []obj
		r.json(t, &l)
		if r.StatusCode != 200 || len(l) != len(workflow.Kinds()) {
			t.Fatalf("%d %s", r.StatusCode, r.body)
		}
		for _, k := range l {
			if k["type"] != "loop" {
				continue
			}
			ok := slices.ContainsFunc(k["properties"].([]any), func(p any) bool {
				m := p.(obj)
				return m["name"] == "max_iterations" && m["type"] == "integer" && m["min_value"] == 1.0 && m["max_value"] == 100.0 &&
					m["default_value"] == float64(workflow.DefaultMaxIterations)
			})
			if !ok {
				t.Errorf("loop properties: %v", k["properties"])
			}
		}
	}},
	{"GET /api/v1/workflows/node-types/modern", func(t *testing.T, e *env) {
		m := e.old(t, "GET", "alice", "/api/v1/workflows/node-types/modern", nil).want(t, 200)
		if len(m["supported_types"].([]any)) != len(workflow.Kinds()) || m["type_details"].(obj)["delay"] == nil || m["conditions"] == nil {
			t.Fatalf("%v", m)
		}
	}},
	{"GET /api/v1/workflows/defaults", func(t *testing.T, e *env) {
		d := e.old(t, "GET", "alice", "/api/v1/workflows/defaults", nil).want(t, 200)
		if d["default_provider"] != "devllm" {
			t.Fatalf("%v", d)
		}
		d = e.old(t, "GET", "alice", "/api/v1/workflows/defaults?node_type=errorHandler", nil).want(t, 200)
		if d["node_type"] != "errorHandler" || d["config"].(obj)["retryCount"] != 1.0 {
			t.Fatalf("node_type: %v", d)
		}
		e.do(t, "GET", "alice", "/api/v1/workflows/defaults?node_type=warp", "").wantField(t, 422, "node_type")
	}},
	{"POST /api/v1/workflows/memory/configure", func(t *testing.T, e *env) {
		c := e.old(t, "POST", "alice", "/api/v1/workflows/memory/configure", nil).want(t, 200)
		if c["status"] != "success" || c["config"].(obj)["base_window_size"] != 10.0 || c["config"].(obj)["user_id"] != "alice" {
			t.Fatalf("defaults: %v", c)
		}
		q := "?adaptive_mode=false&base_window_size=2&max_window_size=3&summary_strategy=recent"
		c = e.old(t, "POST", "alice", "/api/v1/workflows/memory/configure"+q, nil).want(t, 200)
		if cfg := c["config"].(obj); cfg["adaptive_mode"] != false || cfg["base_window_size"] != 2.0 || cfg["summary_strategy"] != "recent" {
			t.Fatalf("full: %v", c)
		}
		// A parameter not sent keeps what was stored.
		c = e.old(t, "POST", "alice", "/api/v1/workflows/memory/configure?max_window_size=4", nil).want(t, 200)
		if cfg := c["config"].(obj); cfg["base_window_size"] != 2.0 || cfg["max_window_size"] != 4.0 {
			t.Fatalf("partial: %v", c)
		}
		// Alice's runs now load her base window; bob's do not.
		first := e.chat(t, "alice", `{"message":"one"}`)
		for _, m := range []string{"two", "three"} {
			e.chat(t, "alice", `{"message":"`+m+`","conversation_id":"`+first.ConversationID+`"}`)
		}
		res := e.chat(t, "alice", `{"message":"four","conversation_id":"`+first.ConversationID+`"}`)
		x, err := e.st.GetExecution(t.Context(), "alice", res.ExecutionID)
		if err != nil || !strings.Contains(fmt.Sprint(x.Log), "2 history message(s)") {
			t.Errorf("alice's run did not load her base window: %+v %v", x.Log, err)
		}
		if b := e.old(t, "POST", "bob", "/api/v1/workflows/memory/configure", nil).want(t, 200); b["config"].(obj)["base_window_size"] != 10.0 {
			t.Fatalf("bob gets alice's settings: %v", b)
		}
		e.do(t, "POST", "alice", "/api/v1/workflows/memory/configure?base_window_size=5&max_window_size=4", "").wantField(t, 422, "max_window_size")
		e.do(t, "POST", "alice", "/api/v1/workflows/memory/configure?base_window_size=0", "").wantField(t, 422, "base_window_size")
	}},
	{"POST /api/v1/workflows/tools/configure", func(t *testing.T, e *env) {
		c := e.old(t, "POST", "alice", "/api/v1/workflows/tools/configure", nil).want(t, 200)
		if c["config"].(obj)["max_total_calls"] != 10.0 || len(c["valid_strategies"].([]any)) != 3 {
			t.Fatalf("defaults: %v", c)
		}
		q := "?max_total_calls=1&max_consecutive_calls=1&recursion_strategy=strict&enable_recursion_detection=false"
		c = e.old(t, "POST", "alice", "/api/v1/workflows/tools/configure"+q, nil).want(t, 200)
		if cfg := c["config"].(obj); cfg["max_total_calls"] != 1.0 || cfg["recursion_strategy"] != "strict" || cfg["enable_recursion_detection"] != false {
			t.Fatalf("full: %v", c)
		}
		// Alice's runs make at most one tool call now; bob's are not bounded by her setting.
		body := `{"message":"/tool calculator {\"expression\":\"1+1\"} ; /tool calculator {\"expression\":\"2+2\"}","enable_tools":true}`
		for user, want := range map[string]int{"alice": 1, "bob": 2} {
			res := e.chat(t, user, body)
			ran := 0
			for _, tc := range res.ToolCalls {
				if tc.Skipped == "" {
					ran++
				}
			}
			if ran != want {
				t.Errorf("%s: %d tool calls ran, want %d", user, ran, want)
			}
		}
		e.do(t, "POST", "alice", "/api/v1/workflows/tools/configure?recursion_strategy=wild", "").wantField(t, 422, "recursion_strategy")
		e.do(t, "POST", "alice", "/api/v1/workflows/tools/configure?max_total_calls=51", "").wantField(t, 422, "max_total_calls")
	}},
	{"POST /api/v1/workflows/execute/chat", func(t *testing.T, e *env) {
		c := e.old(t, "POST", "alice", "/api/v1/workflows/execute/chat", obj{"message": "hello"}).want(t, 200)
		msg, conv := c["message"].(obj), c["conversation"].(obj)
		if c["conversation_id"] != conv["id"] || msg["role"] != "assistant" || msg["sequence_number"] != 2.0 ||
			conv["message_count"] != 2.0 || conv["user_id"] != "alice" || msg["content"] != c["response"] {
			t.Fatalf("minimal: %v", c)
		}
		full := oldChat("and again")
		full["conversation_id"] = conv["id"]
		c = e.old(t, "POST", "alice", "/api/v1/workflows/execute/chat", full).want(t, 200)
		if c["conversation"].(obj)["message_count"] != 4.0 || c["message"].(obj)["sequence_number"] != 4.0 {
			t.Fatalf("full: %v", c)
		}
		full["temperature"] = nil // workflow_config's temperature applies when the top level sends none
		c = e.old(t, "POST", "alice", "/api/v1/workflows/execute/chat", full).want(t, 200)
		if c["status"] != "completed" {
			t.Fatalf("workflow_config: %v", c)
		}
		bad := oldChat("x")
		bad["workflow_config"] = obj{"temperature": "hot"}
		e.do(t, "POST", "alice", "/api/v1/workflows/execute/chat", mustJSON(t, bad)).wantField(t, 422, "/workflow_config/temperature")
		e.do(t, "POST", "bob", "/api/v1/workflows/execute/chat", `{"message":"hi","conversation_id":"`+conv["id"].(string)+`"}`).
			wantField(t, 404, "conversation_id")
	}},
	{"POST /api/v1/workflows/execute/chat/streaming", func(t *testing.T, e *env) {
		for _, body := range []obj{{"message": "hi"}, oldChat("hi")} {
			r := e.old(t, "POST", "alice", "/api/v1/workflows/execute/chat/streaming", body)
			if r.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(string(r.body)), "data: [DONE]") ||
				!strings.Contains(string(r.body), `"type":"token"`) {
				t.Fatalf("%d %s", r.StatusCode, r.body)
			}
		}
		e.do(t, "POST", "alice", "/api/v1/workflows/execute/chat/streaming", `{"message":"hi","web_search":true}`).
			wantField(t, 422, "web_search")
	}},
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
