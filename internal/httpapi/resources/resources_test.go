package resources_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/httpapi/apitest"
	"github.com/chatterhq/chatter/internal/httpapi/chat"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/documents"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/workflow"
)

var (
	_ resources.Store = (*store.Memory)(nil)
	_ resources.Store = (*dynamo.Store)(nil)
)

// documentPatterns are the routes httpapi/documents mounts (its own tests serve
// them, over S3).
func documentPatterns() []string {
	var out []string
	for _, r := range documents.Routes(documents.Deps{}) {
		out = append(out, r.Pattern)
	}
	return out
}

// docOperations lists "METHOD /path" for every operation in the document.
func docOperations(t *testing.T) []string {
	return apitest.Ours(t).Ops()
}

func TestOpenAPI_DocumentCoversEveryMountedRouteAndNothingElse(t *testing.T) {
	e := newEnv(t, envOpts{})
	mounted := append(append(append(append([]string{"GET /health", "GET /ready", chat.PathExecutionStream}, e.patterns...), chatPatterns...), openaiPatterns...),
		documentPatterns()...)
	slices.Sort(mounted)
	documented := docOperations(t)
	for _, m := range mounted {
		if !slices.Contains(documented, m) {
			t.Errorf("mounted route %q is missing from openapi.json", m)
		}
	}
	for _, d := range documented {
		if !slices.Contains(mounted, d) {
			t.Errorf("openapi.json documents %q, which is not mounted", d)
		}
	}
	if len(e.patterns) != 42 {
		t.Errorf("resources mounts %d routes, want 42", len(e.patterns))
	}
}

func TestOpenAPI_EveryRouteButHealthReadyAndTheDocumentRequiresBearer(t *testing.T) {
	doc := apitest.Ours(t).T
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Value.Scheme != "bearer" || s.Value.BearerFormat != "JWT" {
		t.Fatalf("bearerAuth scheme = %+v", s)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			open := op.Security != nil && len(*op.Security) == 0
			if open != (path == "/health" || path == "/ready" || path == "/api/v1/openapi.json") {
				t.Errorf("%s %s: open = %v", method, path, open)
			}
		}
	}
	if len(doc.Security) != 1 {
		t.Errorf("document security = %v", doc.Security)
	}
}

func TestOpenAPI_ServedFromEmbeddedBytes(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.get(t, "alice", "/api/v1/openapi.json")
	if r.StatusCode != 200 || string(r.body) != string(httpapi.OpenAPI) || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r := e.get(t, "", "/health"); r.StatusCode != 200 {
		t.Fatalf("health: %d", r.StatusCode)
	}
}

// A client reads the document before it has a token; a bad token does not matter.
func TestOpenAPI_ServedWithoutAToken(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, auth := range []string{"", "Bearer not-a-jwt"} {
		var r response
		if auth == "" {
			r = e.get(t, "", "/api/v1/openapi.json")
		} else {
			r = e.do(t, "GET", "", "/api/v1/openapi.json", "", "Authorization", auth)
		}
		if r.StatusCode != 200 || !bytes.HasPrefix(bytes.TrimSpace(r.body), []byte("{")) {
			t.Errorf("openapi.json with %q: %d", auth, r.StatusCode)
		}
	}
}

func TestDefinitions_CreateGetUpdateVersionsDelete(t *testing.T) {
	e := newEnv(t, envOpts{})
	validateRequest(t, "POST", "/api/v1/workflows/definitions", chainJSON)
	r := e.post(t, "alice", "/api/v1/workflows/definitions", chainJSON)
	var d resources.DefinitionResponse
	r.json(t, &d)
	if r.StatusCode != 200 || d.Version != 1 || d.ID == "" || d.Name != "chain" || len(d.Nodes) != 3 ||
		r.Header.Get("Location") != "/api/v1/workflows/definitions/"+d.ID {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	base := "/api/v1/workflows/definitions/" + d.ID

	renamed := strings.Replace(chainJSON, `"name":"chain"`, `"name":"chain v2"`, 1)
	r = e.do(t, "PUT", "alice", base, renamed)
	var d2 resources.DefinitionResponse
	r.json(t, &d2)
	if r.StatusCode != 200 || d2.Version != 2 || d2.Name != "chain v2" || d2.ID != d.ID {
		t.Fatalf("update: %d %s", r.StatusCode, r.body)
	}
	for _, c := range []struct {
		query   string
		version int
		name    string
	}{{"", 2, "chain v2"}, {"?version=1", 1, "chain"}, {"?version=2", 2, "chain v2"}} {
		r = e.get(t, "alice", base+c.query)
		var got resources.DefinitionResponse
		r.json(t, &got)
		if r.StatusCode != 200 || got.Version != c.version || got.Name != c.name {
			t.Errorf("get%s: %d %s", c.query, r.StatusCode, r.body)
		}
	}
	if r = e.get(t, "alice", base+"?version=3"); r.StatusCode != 404 {
		t.Errorf("missing version: %d", r.StatusCode)
	}
	r = e.get(t, "alice", "/api/v1/workflows/definitions")
	var l resources.DefinitionList
	r.json(t, &l)
	if r.StatusCode != 200 || len(l.Definitions) != 1 || l.Definitions[0].Version != 2 || l.TotalCount != 1 {
		t.Fatalf("list: %s", r.body)
	}
	r = e.do(t, "DELETE", "alice", base, "")
	var del resources.DeleteResponse
	r.json(t, &del)
	if r.StatusCode != 200 || del.WorkflowID != d.ID || del.Message == "" {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	if r = e.get(t, "alice", base+"?version=1"); r.StatusCode != 404 {
		t.Errorf("after delete: %d", r.StatusCode)
	}
}

func TestDefinitions_InvalidGraphIsProblemWithEveryWorkflowProblem(t *testing.T) {
	e := newEnv(t, envOpts{})
	body := `{"name":"bad","nodes":[{"id":"start","type":"start"},{"id":"t","type":"tools","data":{"config":{"allowed_tools":["laser"]}}}],
	 "edges":[{"source":"start","target":"t"},{"source":"t","target":"nowhere"}]}`
	r := e.post(t, "alice", "/api/v1/workflows/definitions", body)
	p := r.problem(t)
	if r.StatusCode != 400 || p.Code != "invalid_workflow" {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	codes := map[string]string{}
	for _, fe := range p.Errors {
		codes[fe.Code] = fe.Field
	}
	if codes["unknown_tool"] == "" || codes["dangling_edge"] != "/edges/1/target" {
		t.Errorf("errors = %+v", p.Errors)
	}
	list := e.get(t, "alice", "/api/v1/workflows/definitions")
	if !strings.Contains(string(list.body), `"definitions":[]`) {
		t.Errorf("an invalid definition was stored: %s", list.body)
	}
}

func TestDefinitions_ValidateReportsWithoutStoring(t *testing.T) {
	e := newEnv(t, envOpts{})
	cases := []struct {
		name, body string
		valid      bool
		code       string
	}{
		{"valid", chainJSON, true, ""},
		{"no nodes", `{"nodes":[]}`, false, "no_nodes"},
		{"bad condition", `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"llm"}],"edges":[{"source":"s","target":"l"},
		  {"source":"l","target":"END","condition":"((("}]}`, false, "invalid_condition"},
		{"unknown tool", `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"llm","config":{"tools":["laser"]}}],
		  "edges":[{"source":"s","target":"l"},{"source":"l","target":"END"}]}`, false, "unknown_tool"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			validateRequest(t, "POST", "/api/v1/workflows/definitions/validate", c.body)
			r := e.post(t, "alice", "/api/v1/workflows/definitions/validate", c.body)
			var v resources.ValidationResult
			r.json(t, &v)
			if r.StatusCode != 200 || v.IsValid != c.valid || v.Problems == nil || len(v.Errors) != len(v.Problems) {
				t.Fatalf("%d %s", r.StatusCode, r.body)
			}
			if c.code != "" && !slices.ContainsFunc(v.Problems, func(p workflow.Problem) bool { return p.Code == c.code }) {
				t.Errorf("problems %+v lack %s", v.Problems, c.code)
			}
		})
	}
	if l := e.get(t, "alice", "/api/v1/workflows/definitions"); !strings.Contains(string(l.body), `"definitions":[]`) {
		t.Errorf("validate stored something: %s", l.body)
	}
}

func llmConfig(t *testing.T, d resources.DefinitionResponse) map[string]any {
	t.Helper()
	for _, n := range d.Nodes {
		if n.Type == "llm" {
			raw, _ := n.RawConfig()
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no llm node in %+v", d.Nodes)
	return nil
}

func TestDefinitions_FromTemplateGeneratesAndStoresTheGraph(t *testing.T) {
	e := newEnv(t, envOpts{})
	own := e.createTemplate(t, "alice")
	bobs := e.createTemplate(t, "bob")
	path := "/api/v1/workflows/definitions/from-template"

	body := `{"template_name":"code_assistant","name":"my coder","params":{"system_prompt":"Answer in Go."}}`
	validateRequest(t, "POST", path, body)
	r := e.post(t, "alice", path, body)
	var d resources.DefinitionResponse
	r.json(t, &d)
	if r.StatusCode != 200 || d.Version != 1 || d.Name != "my coder" || llmConfig(t, d)["system_prompt"] != "Answer in Go." ||
		d.TemplateID == nil || *d.TemplateID != "code_assistant" {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	if g := e.get(t, "alice", "/api/v1/workflows/definitions/"+d.ID); g.StatusCode != 200 {
		t.Fatalf("generated definition not stored: %d", g.StatusCode)
	}
	r = e.post(t, "alice", path, `{"template_id":"`+own+`"}`)
	r.json(t, &d)
	if r.StatusCode != 200 || d.Name != "helper" || llmConfig(t, d)["system_prompt"] != "Be brief." {
		t.Fatalf("own template: %d %s", r.StatusCode, r.body)
	}

	bad := []struct {
		name, body string
		status     int
		field      string
	}{
		{"both", `{"template_name":"general_chat","template_id":"x"}`, 422, "template_id"},
		{"neither", `{"name":"x"}`, 422, "template_name"},
		{"unknown built-in", `{"template_name":"nope"}`, 404, "template_name"},
		{"unknown param tool", `{"template_name":"code_assistant","params":{"allowed_tools":["laser"]}}`, 400, "/params/allowed_tools/0"},
		{"unknown field", `{"template_name":"general_chat","tempalte":1}`, 422, "tempalte"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			r := e.post(t, "alice", path, c.body)
			p := r.problem(t)
			if r.StatusCode != c.status || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Errorf("%d %s", r.StatusCode, r.body)
			}
		})
	}
	if r := e.post(t, "alice", path, `{"template_id":"`+bobs+`"}`); r.StatusCode != 404 {
		t.Errorf("another user's template: %d %s", r.StatusCode, r.body)
	}
}

func TestDefinitions_ExecutionsListsOnlyRunsOfThatDefinition(t *testing.T) {
	e := newEnv(t, envOpts{})
	id := e.createDefinition(t, "alice")
	run := e.chat(t, "alice", `{"message":"hi","workflow_definition_id":"`+id+`"}`)
	e.chat(t, "alice", `{"message":"unrelated"}`)
	r := e.get(t, "alice", "/api/v1/workflows/definitions/"+id+"/executions")
	var l []wire.Execution
	r.json(t, &l)
	if r.StatusCode != 200 || len(l) != 1 || l[0].ID != run.ExecutionID || l[0].DefinitionID != id ||
		l[0].Source.ID != id || l[0].Status != "completed" || r.Header.Get("X-Total-Count") != "1" {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
}

func TestDefinitions_AnalyticsOverHTTP(t *testing.T) {
	e := newEnv(t, envOpts{})
	id := e.createDefinition(t, "alice")
	r := e.get(t, "alice", "/api/v1/workflows/definitions/"+id+"/analytics")
	var a resources.AnalyticsResponse
	r.json(t, &a)
	if r.StatusCode != 200 || a.DefinitionID != id || a.Version != 1 || a.Nodes != 3 || a.Edges != 2 ||
		a.Kinds["llm"] != 1 || a.Depth != 2 || a.Complexity.Score != 1 || a.Complexity.Depth != 2 ||
		len(a.Bottlenecks) != 1 || a.Bottlenecks[0].NodeID != "llm" || a.Bottlenecks[0].NodeType != "llm" ||
		a.ExecutionPaths != 1 || !a.CanEnd || len(a.RiskFactors) != 0 || a.CompletedAt == nil {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
}

func TestTemplates_ListCreateGetUpdateDelete(t *testing.T) {
	e := newEnv(t, envOpts{})
	id := e.createTemplate(t, "alice")
	e.createTemplate(t, "alice")
	nb := len(workflow.Builtins())
	r := e.get(t, "alice", "/api/v1/workflows/templates?limit="+strconv.Itoa(nb+1))
	var l resources.TemplateList
	r.json(t, &l)
	if r.StatusCode != 200 || len(l.Templates) != nb+1 || !l.Templates[0].IsBuiltin || l.Templates[nb].IsBuiltin ||
		l.NextCursor == "" || l.TotalCount != nb+2 {
		t.Fatalf("first page: %d items, next %q, total %d", len(l.Templates), l.NextCursor, l.TotalCount)
	}
	r = e.get(t, "alice", "/api/v1/workflows/templates?limit=1&cursor="+l.NextCursor)
	var l2 resources.TemplateList
	r.json(t, &l2)
	if r.StatusCode != 200 || len(l2.Templates) != 1 || l2.Templates[0].IsBuiltin || l2.Templates[0].ID == l.Templates[nb].ID ||
		l2.TotalCount != nb+2 {
		t.Fatalf("second page: %s", r.body)
	}

	base := "/api/v1/workflows/templates/" + id
	// Names are unique per user: the second template has "helper 2".
	e.do(t, "PUT", "alice", base, `{"name":"Helper 2 "}`).wantField(t, 409, "name")
	upd := `{"name":"helper v2","capabilities":{"tools":true},"params":{"allowed_tools":["calculator"],"max_tool_calls":3}}`
	validateRequest(t, "PUT", base, upd)
	r = e.do(t, "PUT", "alice", base, upd)
	var tp resources.TemplateResponse
	r.json(t, &tp)
	if r.StatusCode != 200 || tp.Name != "helper v2" || !tp.Capabilities.Tools || tp.ID != id {
		t.Fatalf("update: %d %s", r.StatusCode, r.body)
	}
	r = e.get(t, "alice", base)
	r.json(t, &tp)
	if r.StatusCode != 200 || tp.Name != "helper v2" || tp.IsBuiltin || tp.OwnerID != "alice" {
		t.Fatalf("get: %s", r.body)
	}
	r = e.get(t, "alice", "/api/v1/workflows/templates/general_chat")
	r.json(t, &tp)
	if r.StatusCode != 200 || !tp.IsBuiltin || tp.Name != "general_chat" {
		t.Fatalf("built-in: %s", r.body)
	}
	if r = e.do(t, "DELETE", "alice", base, ""); r.StatusCode != 200 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if r = e.get(t, "alice", base); r.StatusCode != 404 {
		t.Fatalf("after delete: %d", r.StatusCode)
	}
}

func TestTemplates_BuiltinsAreReadOnlyConflicts(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, method := range []string{"PUT", "DELETE"} {
		body := ""
		if method == "PUT" {
			body = `{"name":"mine"}`
		}
		r := e.do(t, method, "alice", "/api/v1/workflows/templates/general_chat", body)
		p := r.problem(t)
		if r.StatusCode != 409 || p.Code != "conflict" || len(p.Errors) != 1 || p.Errors[0].Code != resources.CodeBuiltinTemplate {
			t.Errorf("%s: %d %s", method, r.StatusCode, r.body)
		}
	}
	if r := e.get(t, "bob", "/api/v1/workflows/templates/general_chat"); r.StatusCode != 200 {
		t.Errorf("built-in unreadable after refused changes: %d", r.StatusCode)
	}
}

func TestTemplates_CreateAndValidateReportTemplateProblems(t *testing.T) {
	e := newEnv(t, envOpts{})
	bad := `{"name":"","capabilities":{"tools":true},"params":{"allowed_tools":["laser"]}}`
	r := e.post(t, "alice", "/api/v1/workflows/templates", bad)
	p := r.problem(t)
	fields := []string{}
	for _, fe := range p.Errors {
		fields = append(fields, fe.Field)
	}
	if r.StatusCode != 400 || p.Code != "invalid_workflow" || !slices.Contains(fields, "/name") ||
		!slices.Contains(fields, "/params/allowed_tools/0") {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	r = e.post(t, "alice", "/api/v1/workflows/templates/validate", bad)
	var v resources.TemplateValidation
	r.json(t, &v)
	if r.StatusCode != 200 || v.IsValid || len(v.Problems) != len(p.Errors) || len(v.Errors) != len(v.Problems) {
		t.Fatalf("validate: %d %s", r.StatusCode, r.body)
	}
	good := `{"name":"ok","capabilities":{"retrieval":true},"params":{"top_k":3}}`
	validateRequest(t, "POST", "/api/v1/workflows/templates/validate", good)
	r = e.post(t, "alice", "/api/v1/workflows/templates/validate", good)
	r.json(t, &v)
	if !v.IsValid || len(v.Problems) != 0 || v.TemplateInfo == nil {
		t.Fatalf("validate good: %s", r.body)
	}
}

func TestTemplates_ExportImportRoundTrip(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.get(t, "alice", "/api/v1/workflows/templates/research_assistant/export")
	var doc resources.ExportDocument
	r.json(t, &doc)
	if r.StatusCode != 200 || doc.Format != resources.ExportFormat || !doc.Template.IsBuiltin || doc.Definition == nil ||
		len(doc.Definition.Nodes) < 3 {
		t.Fatalf("export: %d %s", r.StatusCode, r.body)
	}
	validateRequest(t, "POST", "/api/v1/workflows/templates/import", string(r.body))
	imp := e.post(t, "bob", "/api/v1/workflows/templates/import", string(r.body))
	var tp resources.TemplateResponse
	imp.json(t, &tp)
	if imp.StatusCode != 200 || tp.IsBuiltin || tp.ID == "research_assistant" || tp.Name != "research_assistant" ||
		tp.Capabilities != doc.Template.Capabilities {
		t.Fatalf("import: %d %s", imp.StatusCode, imp.body)
	}
	// The imported template exports to the same graph.
	r2 := e.get(t, "bob", "/api/v1/workflows/templates/"+tp.ID+"/export")
	var doc2 resources.ExportDocument
	r2.json(t, &doc2)
	a, _ := json.Marshal(doc.Definition.Nodes)
	b, _ := json.Marshal(doc2.Definition.Nodes)
	if string(a) != string(b) {
		t.Errorf("re-export differs:\n%s\n%s", a, b)
	}
	for _, c := range []struct {
		body, field string
		status      int
	}{
		{`{"format":"other/v9","template":{"name":"x"}}`, "format", 422},
		{`{"format":"chatter.template/v1"}`, "template", 422},
		{`{"template":{"name":"x","default_params":{"temperature":"hot"}}}`, "/template/default_params/temperature", 422},
		{`{"format":"chatter.template/v1","template":{"name":"x","params":{"allowed_tools":["laser"]},"capabilities":{"tools":true}}}`,
			"/template/params/allowed_tools/0", 400},
	} {
		r := e.post(t, "bob", "/api/v1/workflows/templates/import", c.body)
		p := r.problem(t)
		if r.StatusCode != c.status || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
			t.Errorf("%s: %d %s", c.body, r.StatusCode, r.body)
		}
	}
}

func TestCatalog_NodeTypesAndDefaults(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.get(t, "alice", "/api/v1/workflows/node-types")
	var l []struct {
		Type     string         `json:"type"`
		Aliases  []string       `json:"aliases"`
		Defaults map[string]any `json:"defaults"`
	}
	r.json(t, &l)
	if r.StatusCode != 200 || len(l) != len(workflow.Kinds()) {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	for _, it := range l {
		if it.Type == "llm" && !slices.Contains(it.Aliases, "call_model") {
			t.Errorf("llm aliases = %v", it.Aliases)
		}
		if it.Type == "tools" && it.Defaults["max_tool_calls"] != float64(workflow.DefaultMaxToolCalls) {
			t.Errorf("tools defaults = %v", it.Defaults)
		}
	}
	r = e.get(t, "alice", "/api/v1/workflows/defaults")
	var d resources.Defaults
	r.json(t, &d)
	if r.StatusCode != 200 || d.DefaultProvider != "devllm" || d.Limits.MaxNodes != workflow.MaxNodes ||
		d.Limits.StepLimit != resources.DefaultStepLimit || d.Limits.RateLimits["chat"].Limit != 30 ||
		d.Limits.MaxMessageBytes != store.DefaultMaxContentBytes {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
}

func TestExecutions_ListFilterGetAndEvents(t *testing.T) {
	e := newEnv(t, envOpts{})
	ok := e.chat(t, "alice", `{"message":"hello"}`)
	r := e.post(t, "alice", "/api/v1/workflows/execute/chat", `{"message":"/fail auth"}`)
	failed := r.problem(t)
	tpl := e.post(t, "alice", "/api/v1/workflows/templates/general_chat/execute", `{"message":"hey"}`)
	if tpl.StatusCode != 200 {
		t.Fatalf("template run: %d %s", tpl.StatusCode, tpl.body)
	}
	cases := []struct {
		query string
		want  int
	}{{"", 3}, {"?status=completed", 2}, {"?status=failed", 1}, {"?source=template", 1}, {"?source=dynamic", 2},
		{"?status=failed&source=template", 0}}
	for _, c := range cases {
		for _, path := range []string{"/api/v1/executions", "/api/v1/workflows/executions"} {
			r := e.get(t, "alice", path+c.query)
			var l resources.ExecutionList
			r.json(t, &l)
			if r.StatusCode != 200 || len(l.Executions) != c.want || l.TotalCount != c.want {
				t.Errorf("%s%s: %d items, want %d: %s", path, c.query, len(l.Executions), c.want, r.body)
			}
		}
	}

	r = e.get(t, "alice", "/api/v1/executions/"+ok.ExecutionID)
	var d wire.ExecutionDetail
	r.json(t, &d)
	if r.StatusCode != 200 || d.Status != "completed" || d.OutputData.Response != ok.Response || len(d.ExecutionLog) == 0 ||
		d.Usage.TotalTokens != ok.TokensUsed || d.TokensUsed != ok.TokensUsed || d.Mode != "standard" || d.Error != nil ||
		d.ErrorMessage != nil || d.CompletedAt == nil || d.ExecutionTimeMS == nil || len(d.Logs) != len(d.ExecutionLog)+2 {
		t.Fatalf("detail: %d %s", r.StatusCode, r.body)
	}
	r = e.get(t, "alice", "/api/v1/executions/"+failed.ExecutionID)
	r.json(t, &d)
	if d.Status != "failed" || d.Error == nil || d.Error.Code != "llm_error" || d.ErrorMessage == nil ||
		!strings.HasPrefix(*d.ErrorMessage, "llm_error") || d.Logs[len(d.Logs)-1].Level != wire.LevelError {
		t.Fatalf("failed detail: %s", r.body)
	}

	evs := []store.ExecutionEvent{
		{ID: "ev3", Seq: 3, Type: "execution_completed", Time: time.Now()},
		{ID: "ev1", Seq: 1, Type: "workflow_started", Time: time.Now(), Data: json.RawMessage(`{"k":1}`)},
		{ID: "ev2", Seq: 2, Type: "execution_started", Time: time.Now()},
	}
	if err := e.st.(*store.Memory).AppendEvents(context.Background(), "alice", ok.ExecutionID, evs); err != nil {
		t.Fatal(err)
	}
	var seqs []int
	next := ""
	for range 5 {
		r = e.get(t, "alice", "/api/v1/executions/"+ok.ExecutionID+"/events?limit=2&cursor="+next)
		var l httpapi.List[store.ExecutionEvent]
		r.json(t, &l)
		if r.StatusCode != 200 {
			t.Fatalf("events: %d %s", r.StatusCode, r.body)
		}
		for _, ev := range l.Items {
			seqs = append(seqs, ev.Seq)
		}
		if next = l.NextCursor; next == "" {
			break
		}
	}
	if !slices.Equal(seqs, []int{1, 2, 3}) {
		t.Errorf("event seqs = %v", seqs)
	}
}

// The record of a run read back agrees with the run's own answer: the same id,
// status, tokens, reply and error code (the record and the answer are different
// shapes of one run).
func TestExecutionRecord_AgreesWithTheRunsAnswer(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, msg := range []string{"hello", "/fail auth"} {
		res, _ := e.x.Execute(context.Background(), executor.Request{Source: executor.Source{Kind: executor.SourceDynamic},
			Mode: executor.ModeStandard, Input: executor.Input{Message: msg, UserID: "alice"}}, executor.Discard)
		if res == nil {
			t.Fatalf("%s: no result", msg)
		}
		r := e.get(t, "alice", "/api/v1/executions/"+res.ExecutionID)
		var got wire.ExecutionDetail
		r.json(t, &got)
		if got.ID != res.ExecutionID || got.ExecutionID != res.ExecutionID || got.Status != res.Status ||
			got.TokensUsed != res.Usage.Total() || got.OutputData.Response != res.Response || got.Steps != res.Steps ||
			(res.Error == nil) != (got.Error == nil) || res.Error != nil && got.Error.Code != res.Error.Code ||
			got.ConversationID != res.ConversationID || len(got.ExecutionLog) != len(res.Log) {
			t.Errorf("%s: record %s, run %+v", msg, r.body, res)
		}
	}
}

func TestConversations_ListGetMessagesDelete(t *testing.T) {
	e := newEnv(t, envOpts{})
	first := e.chat(t, "alice", `{"message":"one"}`)
	e.chat(t, "alice", `{"message":"two","conversation_id":"`+first.ConversationID+`"}`)
	second := e.chat(t, "alice", `{"message":"other thread"}`)

	for _, path := range []string{"/api/v1/conversations", "/api/v1/conversations/"} {
		r := e.get(t, "alice", path)
		var l resources.ConversationList
		r.json(t, &l)
		if r.StatusCode != 200 || len(l.Conversations) != 2 || l.Conversations[0].ID != second.ConversationID ||
			l.TotalCount != 2 || l.Limit != 50 || l.Offset != 0 {
			t.Fatalf("%s (most recent first): %s", path, r.body)
		}
	}
	r := e.get(t, "alice", "/api/v1/conversations/"+first.ConversationID)
	var c struct {
		wire.ConversationWithMessages
		HasMore bool `json:"has_more_messages"`
	}
	r.json(t, &c)
	if r.StatusCode != 200 || c.MessageCount != 4 || len(c.Messages) != 4 || c.Messages[0].Content != "one" || c.HasMore ||
		c.LLMProvider == nil || *c.LLMProvider != "devllm" || c.LastMessageAt == nil {
		t.Fatalf("get: %s", r.body)
	}
	r = e.get(t, "alice", "/api/v1/conversations/"+first.ConversationID+"?include_messages=false")
	r.json(t, &c)
	if r.StatusCode != 200 || len(c.Messages) != 0 || c.MessageCount != 4 {
		t.Fatalf("get without messages: %s", r.body)
	}
	r = e.get(t, "alice", "/api/v1/conversations/"+first.ConversationID+"/messages?limit=3")
	var ml []wire.Message
	r.json(t, &ml)
	next := nextCursor(t, r)
	if r.StatusCode != 200 || len(ml) != 3 || ml[0].SequenceNumber != 1 || ml[0].Content != "one" || next == "" ||
		r.Header.Get("X-Total-Count") != "4" || ml[1].Role != "assistant" || ml[1].TotalTokens == nil || ml[0].TotalTokens != nil {
		t.Fatalf("messages: %v %s", r.Header, r.body)
	}
	r = e.get(t, "alice", "/api/v1/conversations/"+first.ConversationID+"/messages?limit=3&cursor="+next)
	r.json(t, &ml)
	if len(ml) != 1 || ml[0].SequenceNumber != 4 || nextCursor(t, r) != "" {
		t.Fatalf("messages page 2: %s", r.body)
	}
	r = e.get(t, "alice", "/api/v1/conversations/"+first.ConversationID+"/messages?offset=2&limit=1")
	r.json(t, &ml)
	if len(ml) != 1 || ml[0].SequenceNumber != 3 {
		t.Fatalf("messages at offset 2: %s", r.body)
	}
	if r = e.do(t, "DELETE", "alice", "/api/v1/conversations/"+first.ConversationID, ""); r.StatusCode != 200 ||
		!strings.Contains(string(r.body), `"message":"Conversation deleted successfully"`) {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	for _, p := range []string{"", "/messages"} {
		if r = e.get(t, "alice", "/api/v1/conversations/"+first.ConversationID+p); r.StatusCode != 404 {
			t.Errorf("after delete %s: %d", p, r.StatusCode)
		}
	}
	if _, err := e.st.(*store.Memory).Messages(context.Background(), "alice", first.ConversationID); err == nil {
		t.Errorf("messages survived the delete")
	}
}

// nextCursor is the cursor of a bare-array page's Link rel="next", or "".
func nextCursor(t testing.TB, r response) string {
	t.Helper()
	link := r.Header.Get("Link")
	if link == "" {
		return ""
	}
	target, ok := strings.CutSuffix(link, `>; rel="next"`)
	if !ok || !strings.HasPrefix(target, "<") {
		t.Fatalf("Link %q", link)
	}
	u, err := url.Parse(target[1:])
	if err != nil {
		t.Fatalf("Link %q: %v", link, err)
	}
	return u.Query().Get("cursor")
}

// route is one request per mounted route, ids filled in.
type routeReq struct{ method, path, body string }

func allRoutes(ids map[string]string) []routeReq {
	fill := func(p string) string {
		for k, v := range ids {
			p = strings.ReplaceAll(p, "{"+k+"}", v)
		}
		return wildcard.ReplaceAllString(p, "x1")
	}
	var out []routeReq
	for _, p := range append(resourcesPatterns(), chatPatterns...) {
		method, path, _ := strings.Cut(p, " ")
		body := ""
		if method == "POST" || method == "PUT" || method == "PATCH" {
			body = `{}`
		}
		out = append(out, routeReq{method, fill(path), body})
	}
	return out
}

func resourcesPatterns() []string {
	var ps []string
	for _, r := range resources.Routes(resources.Deps{Store: store.NewMemory()}) {
		for _, p := range r.MuxPatterns() {
			ps = append(ps, strings.TrimSuffix(p, "{$}"))
		}
	}
	return ps
}

// wildcard matches a path wildcard ({id}, {message_id}...).
var wildcard = regexp.MustCompile(`\{[a-z_]+\}`)

func TestEveryRoute_WithoutTokenIs401(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, rq := range allRoutes(nil) {
		if rq.method+" "+rq.path == resources.PathOpenAPI {
			continue // open: TestOpenAPI_ServedWithoutAToken
		}
		if openaiRoute(rq.method, rq.path) {
			continue // OpenAI's error shape: see openaiPatterns
		}
		for _, auth := range []string{"", "Bearer not-a-jwt"} {
			var r response
			if auth == "" {
				r = e.do(t, rq.method, "", rq.path, rq.body)
			} else {
				r = e.do(t, rq.method, "", rq.path, rq.body, "Authorization", auth)
			}
			p := r.problem(t)
			if r.StatusCode != 401 || p.Code != "unauthorized" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s (%q): %d %s", rq.method, rq.path, auth, r.StatusCode, r.body)
			}
		}
	}
}

// TestIDRoutes_OtherUsersRecordIsNotFound sends bob to every route that takes an
// id, with the id of alice's record: always 404, and alice's records unchanged.
func TestIDRoutes_OtherUsersRecordIsNotFound(t *testing.T) {
	e := newEnv(t, envOpts{})
	def := e.createDefinition(t, "alice")
	tpl := e.createTemplate(t, "alice")
	run := e.chat(t, "alice", `{"message":"secret plan"}`)
	checkIsolation(t, e, def, tpl, run.ExecutionID, run.ConversationID)
}

func checkIsolation(t *testing.T, e *env, def, tpl, exec, conv string) {
	t.Helper()
	idOf := map[string]string{"definitions": def, "templates": tpl, "executions": exec, "conversations": conv}
	n := 0
	for _, rq := range allRoutes(nil) {
		if !strings.Contains(rq.path, "/x1") {
			continue
		}
		path := rq.path
		for k, v := range idOf {
			path = strings.Replace(path, k+"/x1", k+"/"+v, 1)
		}
		body := rq.body
		switch {
		case strings.HasSuffix(path, "/execute") && strings.Contains(path, "definitions"):
			body = `{"message":"hi","definition_id":"` + def + `"}`
		case strings.HasSuffix(path, "/execute"):
			body = `{"message":"hi"}`
		case strings.HasSuffix(path, "/resume"):
			body = `{"action":"approve"}`
		case rq.method == "PUT" && strings.Contains(path, "definitions"):
			body = chainJSON
		case rq.method == "PUT" && strings.Contains(path, "conversations"):
			body = `{"title":"stolen"}`
		case rq.method == "PUT":
			body = `{"name":"stolen"}`
		case rq.method == "PATCH":
			body = `{"rating":1}`
		}
		n++
		r := e.do(t, rq.method, "bob", path, body)
		p := r.problem(t)
		if r.StatusCode != 404 || p.Code != "not_found" || strings.Contains(string(r.body), "secret") {
			t.Errorf("%s %s as bob: %d %s", rq.method, path, r.StatusCode, r.body)
		}
	}
	if n != 25 {
		t.Errorf("checked %d id routes, want 25", n)
	}
	for _, p := range []string{"/api/v1/workflows/definitions/" + def, "/api/v1/workflows/templates/" + tpl,
		"/api/v1/executions/" + exec, "/api/v1/conversations/" + conv + "/messages"} {
		r := e.get(t, "alice", p)
		if r.StatusCode != 200 || strings.Contains(string(r.body), "stolen") {
			t.Errorf("alice's %s changed: %d %s", p, r.StatusCode, r.body)
		}
	}
}

func TestBadInput_IsProblemNamingTheField(t *testing.T) {
	e := newEnv(t, envOpts{})
	def := e.createDefinition(t, "alice")
	long := strings.Repeat("a", store.MaxIDLen+1)
	cases := []struct {
		name, method, path, body string
		code, field              string
	}{
		{"unknown field", "POST", "/api/v1/workflows/definitions", `{"name":"x","nodes":[],"colour":"red"}`, "invalid_input", "colour"},
		{"wrong type", "POST", "/api/v1/workflows/definitions", `{"name":7,"nodes":[]}`, "invalid_input", "/name"},
		{"nodes not array", "POST", "/api/v1/workflows/definitions", `{"name":"x","nodes":{}}`, "invalid_input", "nodes"},
		{"missing name", "POST", "/api/v1/workflows/definitions", `{"nodes":[]}`, "invalid_input", "name"},
		{"malformed JSON", "POST", "/api/v1/workflows/templates", `{"name":`, "invalid_input", ""},
		{"empty body", "POST", "/api/v1/workflows/templates/validate", ``, "invalid_input", ""},
		{"trailing data", "POST", "/api/v1/workflows/templates", `{"name":"a"} {}`, "invalid_input", ""},
		{"long id", "GET", "/api/v1/workflows/definitions/" + long, "", "invalid_input", "id"},
		{"bad id characters", "GET", "/api/v1/conversations/a%21b", "", "invalid_input", "id"},
		{"bad id on delete", "DELETE", "/api/v1/workflows/templates/a%20b", "", "invalid_input", "id"},
		{"version not a number", "GET", "/api/v1/workflows/definitions/" + def + "?version=two", "", "invalid_input", "version"},
		{"version zero", "GET", "/api/v1/workflows/definitions/" + def + "/analytics?version=0", "", "invalid_input", "version"},
		{"limit zero", "GET", "/api/v1/conversations?limit=0", "", "invalid_input", "limit"},
		{"definitions limit zero", "GET", "/api/v1/workflows/definitions?limit=0", "", "invalid_input", "limit"},
		{"templates offset too big", "GET", "/api/v1/workflows/templates?offset=10001", "", "invalid_input", "offset"},
		{"offset too big", "GET", "/api/v1/executions?offset=10001", "", "invalid_input", "offset"},
		{"negative offset", "GET", "/api/v1/conversations/?offset=-1", "", "invalid_input", "offset"},
		{"bad sort", "GET", "/api/v1/conversations?sort_by=colour", "", "invalid_input", "sort_by"},
		{"bad sort order", "GET", "/api/v1/conversations?sort_order=up", "", "invalid_input", "sort_order"},
		{"bad conversation status", "GET", "/api/v1/conversations?status=frozen", "", "invalid_input", "status"},
		{"bad boolean", "GET", "/api/v1/conversations?enable_retrieval=maybe", "", "invalid_input", "enable_retrieval"},
		{"bad message id", "DELETE", "/api/v1/conversations/c1/messages/a%20b", "", "invalid_input", "message_id"},
		{"bad execution id", "GET", "/api/v1/workflows/definitions/d1/executions/a%20b", "", "invalid_input", "execution_id"},
		{"bad log level", "GET", "/api/v1/workflows/definitions/d1/executions/x1/logs?log_level=loud", "", "invalid_input", "log_level"},
		{"negative log limit", "GET", "/api/v1/workflows/definitions/d1/executions/x1/logs?limit=-1", "", "invalid_input", "limit"},
		{"title missing", "POST", "/api/v1/conversations/", `{"system_prompt":"x"}`, "invalid_input", "title"},
		{"unknown conversation field", "POST", "/api/v1/conversations", `{"title":"x","colour":"red"}`, "invalid_input", "colour"},
		{"temperature out of range", "POST", "/api/v1/conversations", `{"title":"x","temperature":2.5}`, "invalid_input", "temperature"},
		{"max_tokens zero", "PUT", "/api/v1/conversations/c1", `{"max_tokens":0}`, "invalid_input", "max_tokens"},
		{"bad status on update", "PUT", "/api/v1/conversations/c1", `{"status":"frozen"}`, "invalid_input", "status"},
		{"rating missing", "PATCH", "/api/v1/conversations/c1/messages/m1/rating", `{}`, "invalid_input", "rating"},
		{"rating out of range", "PATCH", "/api/v1/conversations/c1/messages/m1/rating", `{"rating":6}`, "invalid_input", "rating"},
		{"limit not a number", "GET", "/api/v1/workflows/templates?limit=ten", "", "invalid_input", "limit"},
		{"unknown query", "GET", "/api/v1/workflows/definitions?limt=5", "", "invalid_input", "limt"},
		{"bad status filter", "GET", "/api/v1/executions?status=done", "", "invalid_input", "status"},
		{"bad source filter", "GET", "/api/v1/executions?source=magic", "", "invalid_input", "source"},
		{"bad definition filter", "GET", "/api/v1/executions?definition=a%20b", "", "invalid_input", "definition"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, c.method, "alice", c.path, c.body)
			p := r.problem(t)
			if r.StatusCode != errcode.Of(c.code).Status || p.Code != c.code || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Errorf("%d %s", r.StatusCode, r.body)
			}
		})
	}
}

func listPaths(def, exec, conv string) []string {
	return []string{"/api/v1/workflows/definitions", "/api/v1/workflows/definitions/" + def + "/executions",
		"/api/v1/workflows/templates", "/api/v1/executions", "/api/v1/executions/" + exec + "/events",
		"/api/v1/conversations", "/api/v1/conversations/" + conv + "/messages"}
}

func TestLists_ForgedOrForeignCursorIs422NamingCursor(t *testing.T) {
	e := newEnv(t, envOpts{})
	def := e.createDefinition(t, "alice")
	run := e.chat(t, "alice", `{"message":"hi","workflow_definition_id":"`+def+`"}`)
	e.chat(t, "bob", `{"message":"hi"}`)
	e.chat(t, "bob", `{"message":"hi again"}`)
	r := e.get(t, "bob", "/api/v1/conversations?limit=1")
	var l httpapi.List[store.Conversation]
	r.json(t, &l)
	if l.NextCursor == "" {
		t.Fatalf("bob has no second page: %s", r.body)
	}
	for _, p := range listPaths(def, run.ExecutionID, run.ConversationID) {
		for _, cur := range []string{"forged.cursor", "eyJpZCI6IngifQ.AAAAAAAAAAAAAAAAAAAAAA", l.NextCursor} {
			r := e.get(t, "alice", p+"?cursor="+cur)
			pr := r.problem(t)
			if r.StatusCode != 422 || pr.Code != "invalid_input" || len(pr.Errors) != 1 || pr.Errors[0].Field != "cursor" {
				t.Errorf("%s cursor %.12s: %d %s", p, cur, r.StatusCode, r.body)
			}
		}
	}
}

// Every list reads ?limit, ?offset and ?cursor by one rule (offsetPage): a limit
// under 1 or an offset past store.MaxOffset is a 422 naming it, a limit over
// store.MaxPageSize is answered with that many, an offset after a cursor skips from
// the cursor's position.
func TestLists_PageByOneRule(t *testing.T) {
	e := newEnv(t, envOpts{})
	def := e.createDefinition(t, "alice")
	run := e.chat(t, "alice", `{"message":"hi","workflow_definition_id":"`+def+`"}`)
	for _, p := range listPaths(def, run.ExecutionID, run.ConversationID) {
		for q, field := range map[string]string{"?limit=0": "limit", "?limit=x": "limit", "?offset=-1": "offset",
			"?offset=" + strconv.Itoa(store.MaxOffset+1): "offset"} {
			r := e.get(t, "alice", p+q)
			if pr := r.problem(t); r.StatusCode != 422 || len(pr.Errors) != 1 || pr.Errors[0].Field != field {
				t.Errorf("%s%s: %d %s", p, q, r.StatusCode, r.body)
			}
		}
		for _, q := range []string{"?limit=1000", "?offset=" + strconv.Itoa(store.MaxOffset), "?limit=1&offset=0"} {
			if r := e.get(t, "alice", p+q); r.StatusCode != 200 {
				t.Errorf("%s%s: %d %s", p, q, r.StatusCode, r.body)
			}
		}
	}
	// Offset after a cursor, on a list the handler used to walk itself.
	for range 3 {
		e.createDefinition(t, "alice")
	}
	var first, rest struct {
		Definitions []struct {
			ID string `json:"id"`
		} `json:"definitions"`
		TotalCount int    `json:"total_count"`
		NextCursor string `json:"next_cursor"`
	}
	e.get(t, "alice", "/api/v1/workflows/definitions?limit=1").json(t, &first)
	e.get(t, "alice", "/api/v1/workflows/definitions?limit=5&offset=1&cursor="+first.NextCursor).json(t, &rest)
	var all struct {
		Definitions []struct {
			ID string `json:"id"`
		} `json:"definitions"`
	}
	e.get(t, "alice", "/api/v1/workflows/definitions?limit=100").json(t, &all)
	if len(all.Definitions) != 4 || first.TotalCount != 4 || rest.TotalCount != 4 || len(rest.Definitions) != 2 ||
		rest.Definitions[0].ID != all.Definitions[2].ID || rest.Definitions[1].ID != all.Definitions[3].ID || rest.NextCursor != "" {
		t.Errorf("first %+v, then offset 1 after its cursor %+v, of %+v", first, rest, all)
	}
}

func TestBodyRoutes_OversizeBodyIs413(t *testing.T) {
	e := newEnv(t, envOpts{})
	big := `{"name":"` + strings.Repeat("x", httpcore.DefaultBodyLimit) + `"}`
	for _, rq := range allRoutes(nil) {
		if rq.body == "" || openaiRoute(rq.method, rq.path) {
			continue
		}
		r := e.do(t, rq.method, "alice", rq.path, big)
		p := r.problem(t)
		if r.StatusCode != 413 || p.Code != "too_large" {
			t.Errorf("%s %s: %d %s", rq.method, rq.path, r.StatusCode, r.body)
		}
	}
}

func TestRateLimit_OtherClassIs429WithRetryAfter(t *testing.T) {
	e := newEnv(t, envOpts{limiter: store.NewMemory(),
		rates: map[httpcore.Class]httpcore.Rate{httpcore.ClassOther: {Limit: 2, Window: time.Hour}}})
	for i := range 2 {
		r := e.get(t, "alice", "/api/v1/conversations")
		if r.StatusCode != 200 || r.Header.Get("RateLimit-Remaining") != strconv.Itoa(1-i) {
			t.Fatalf("request %d: %d remaining %q", i, r.StatusCode, r.Header.Get("RateLimit-Remaining"))
		}
	}
	for _, rq := range []routeReq{{"GET", "/api/v1/workflows/node-types", ""}, {"POST", "/api/v1/workflows/definitions", chainJSON},
		{"DELETE", "/api/v1/conversations/x1", ""}} {
		r := e.do(t, rq.method, "alice", rq.path, rq.body)
		p := r.problem(t)
		if r.StatusCode != 429 || p.Code != "rate_limited" || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: %d %s", rq.method, rq.path, r.StatusCode, r.body)
		}
	}
	if r := e.get(t, "bob", "/api/v1/conversations"); r.StatusCode != 200 {
		t.Errorf("bob was limited by alice's requests: %d", r.StatusCode)
	}
}

func TestStreaming_FramesMatchTheDocument(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.post(t, "alice", "/api/v1/workflows/execute/chat/streaming", `{"message":"stream please"}`)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	if frames := apitest.SSEData(r.body); len(frames) < 4 || !strings.HasSuffix(strings.TrimSpace(string(r.body)), "data: [DONE]") {
		t.Errorf("frames = %v", frames)
	}
	def := e.createDefinition(t, "alice")
	for _, p := range []string{"/api/v1/workflows/definitions/" + def + "/execute?stream=true",
		"/api/v1/workflows/definitions/" + def + "/execute"} {
		if r := e.post(t, "alice", p, `{"message":"run"}`); r.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, r.StatusCode, r.body)
		}
	}
	body := `{"message":"x","nodes":[{"id":"s","type":"start"},{"id":"l","type":"llm"}],"edges":[{"source":"s","target":"l"},{"source":"l","target":"END"}]}`
	validateRequest(t, "POST", "/api/v1/workflows/definitions/custom/execute", body)
	if r := e.post(t, "alice", "/api/v1/workflows/definitions/custom/execute", body); r.StatusCode != 200 {
		t.Errorf("inline: %d %s", r.StatusCode, r.body)
	}
	tb := `{"message":"x","template":{"name":"t","capabilities":{"memory":true}}}`
	validateRequest(t, "POST", "/api/v1/workflows/templates/execute", tb)
	if r := e.post(t, "alice", "/api/v1/workflows/templates/execute", tb); r.StatusCode != 200 {
		t.Errorf("inline template: %d %s", r.StatusCode, r.body)
	}
	validateRequest(t, "POST", "/api/v1/workflows/execute/chat", `{"message":"hi","temperature":0.3,"enable_memory":true}`)
	if r := e.post(t, "alice", "/api/v1/workflows/execute/chat", `{"message":"hi","provider":"nope"}`); r.StatusCode != 400 {
		t.Errorf("unknown provider: %d", r.StatusCode)
	}
}

func TestPagination_FollowsCursorsOverEveryItemOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	checkPagination(t, e)
}

// checkPagination creates five definitions and walks them two at a time.
func checkPagination(t *testing.T, e *env) {
	t.Helper()
	var want []string
	for range 5 {
		want = append(want, e.createDefinition(t, "carol"))
	}
	e.createDefinition(t, "dave")
	slices.Sort(want)
	var got []string
	next := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("cursor never ends")
		}
		r := e.get(t, "carol", "/api/v1/workflows/definitions?limit=2&cursor="+next)
		var l resources.DefinitionList
		r.json(t, &l)
		if r.StatusCode != 200 || len(l.Definitions) > 2 || l.TotalCount != 5 {
			t.Fatalf("%d %s", r.StatusCode, r.body)
		}
		for _, d := range l.Definitions {
			got = append(got, d.ID)
		}
		if next = l.NextCursor; next == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}
	// The predecessor's offset pages the same list.
	got = nil
	for off := 0; off < 6; off += 2 {
		r := e.get(t, "carol", "/api/v1/workflows/definitions?limit=2&offset="+strconv.Itoa(off))
		var l resources.DefinitionList
		r.json(t, &l)
		if r.StatusCode != 200 || l.TotalCount != 5 {
			t.Fatalf("offset %d: %d %s", off, r.StatusCode, r.body)
		}
		for _, d := range l.Definitions {
			got = append(got, d.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("offsets gave %v, want %v", got, want)
	}
	r := e.get(t, "dave", "/api/v1/workflows/definitions?limit=1")
	var l resources.DefinitionList
	r.json(t, &l)
	if len(l.Definitions) != 1 || slices.Contains(want, l.Definitions[0].ID) || l.TotalCount != 1 {
		t.Errorf("dave sees %s", r.body)
	}
}

// catchTB records failures instead of failing the test, to test the checker.
type catchTB struct {
	testing.TB
	failed bool
}

func (c *catchTB) Errorf(string, ...any) { c.failed = true }
func (c *catchTB) Fatalf(string, ...any) { c.failed = true }

// conversationJSON is a conversation read with no message, then extra.
func conversationJSON(extra string) string {
	return `{"id":"c1","user_id":"u","title":"","status":"active","enable_retrieval":false,"message_count":0,
	  "total_tokens":0,"total_cost":0,"context_window":20,"memory_enabled":true,"retrieval_limit":4,
	  "retrieval_score_threshold":0,"created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z",
	  "last_message_at":null,"messages":[],"version":1` + extra + `}`
}

// The response checker is what makes the other tests check the document; it must
// reject a response the document does not describe.
func TestOpenAPICheck_RejectsResponsesOffTheDocument(t *testing.T) {
	e := newEnv(t, envOpts{})
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/conversations/c1", nil)
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}}
	cases := []struct {
		name   string
		status int
		header http.Header
		body   string
		bad    bool
	}{
		{"documented", 200, hdr, conversationJSON(""), false},
		{"missing field", 200, hdr, `{"id":"c1"}`, true},
		{"extra field", 200, hdr, conversationJSON(`,"x":1`), true},
		{"undocumented status", 409, http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"r1"}},
			`{"type":"t","title":"t","status":409,"code":"conflict"}`, true},
		{"missing request id", 404, http.Header{"Content-Type": {"application/problem+json"}},
			`{"type":"t","title":"t","status":404,"code":"not_found"}`, true},
		{"unknown problem code", 404, http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"r1"}},
			`{"type":"t","title":"t","status":404,"code":"gone"}`, true},
	}
	for _, c := range cases {
		ct := &catchTB{TB: t}
		checkResponse(ct, req, &http.Response{StatusCode: c.status, Header: c.header}, []byte(c.body))
		if ct.failed != c.bad {
			t.Errorf("%s: rejected = %v, want %v", c.name, ct.failed, c.bad)
		}
	}
}

func TestExecutionDetail_KeepsToolCallsAndMessageID(t *testing.T) {
	e := newEnv(t, envOpts{})
	on := true
	res, err := e.x.Execute(context.Background(), executor.Request{Source: executor.Source{Kind: executor.SourceDynamic},
		Mode: executor.ModeStandard, Input: executor.Input{Message: `/tool calculator {"expression":"2+3"}`, UserID: "alice",
			Config: executor.Config{EnableTools: &on}}}, executor.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var d wire.ExecutionDetail
	e.get(t, "alice", "/api/v1/executions/"+res.ExecutionID).json(t, &d)
	if d.OutputData.MessageID != res.AssistantMessageID || d.OutputData.MessageID == "" || d.ToolCalls != 1 {
		t.Fatalf("message_id = %q, want %q", d.OutputData.MessageID, res.AssistantMessageID)
	}
	if len(d.OutputData.ToolCalls) != 1 || d.OutputData.ToolCalls[0].Name != "calculator" || d.OutputData.ToolCalls[0].Result != "5" {
		t.Fatalf("tool_calls = %+v", d.OutputData.ToolCalls)
	}
	var l resources.ExecutionList
	e.get(t, "alice", "/api/v1/executions").json(t, &l)
	if len(l.Executions) != 1 || len(l.Executions[0].OutputData.ToolCalls) != 1 {
		t.Fatalf("list = %+v", l.Executions)
	}
}

func TestTemplates_PublicTemplateIsReadableButNotReplaceable(t *testing.T) {
	e := newEnv(t, envOpts{})
	pub := &workflow.Template{ID: "shared-helper", Name: "shared helper", Capabilities: workflow.Capabilities{Memory: true}}
	if err := e.st.(*store.Memory).PublishTemplate(context.Background(), pub); err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/workflows/templates/shared-helper"
	var tp resources.TemplateResponse
	r := e.get(t, "bob", base)
	r.json(t, &tp)
	if r.StatusCode != 200 || tp.Name != "shared helper" || !tp.IsPublic || tp.OwnerID != resources.OwnerPublic {
		t.Fatalf("get public: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(t, "PUT", "bob", base, `{"name":"hijacked"}`); r.StatusCode != 404 {
		t.Fatalf("PUT of a public template: %d %s", r.StatusCode, r.body)
	}
	r = e.get(t, "bob", base)
	r.json(t, &tp)
	if tp.Name != "shared helper" || !tp.IsPublic {
		t.Fatalf("public template changed or shadowed: %s", r.body)
	}
}

// The document lists the problem codes clients branch on: exactly errcode's list.
func TestOpenAPI_ProblemCodesAreErrcodesList(t *testing.T) {
	var documented []string
	for _, v := range apitest.Ours(t).T.Components.Schemas["Problem"].Value.Properties["code"].Value.Enum {
		documented = append(documented, v.(string))
	}
	slices.Sort(documented)
	want := errcode.All()
	slices.Sort(want)
	if !slices.Equal(documented, want) {
		t.Errorf("Problem.code enum %v, want errcode.All() %v", documented, want)
	}
}

// The streaming Function URL is a second host: the document names the HTTP API for
// every operation and, first on each execute operation, the Function URL — the
// deployment's own address in the served document.
func TestOpenAPI_ServersNameTheStreamingFunctionURLOnExecuteOperations(t *testing.T) {
	const fnURL = "https://abc123.lambda-url.eu-west-1.on.aws"
	rec := httptest.NewRecorder()
	resources.OpenAPI(fnURL+"/").ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Fatalf("servers %v, want the HTTP API (relative)", doc.Servers)
	}
	execute := map[string]bool{}
	for _, p := range chatPatterns {
		execute[p] = true
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if name == chat.PathExecutionStream {
				// Served on the Function URL only (no Lambda of its own behind the HTTP API).
				if op.Servers == nil || len(*op.Servers) != 1 || (*op.Servers)[0].URL != "{streamUrl}" ||
					(*op.Servers)[0].Variables["streamUrl"].Default != fnURL {
					t.Errorf("%s: servers %v, want the Function URL only", name, op.Servers)
				}
				continue
			}
			if !execute[name] {
				if op.Servers != nil {
					t.Errorf("%s names its own servers", name)
				}
				continue
			}
			if op.Servers == nil || len(*op.Servers) != 2 {
				t.Fatalf("%s: servers %v, want the Function URL then the HTTP API", name, op.Servers)
			}
			s := (*op.Servers)[0]
			if s.URL != "{streamUrl}" || s.Variables["streamUrl"].Default != fnURL || (*op.Servers)[1].URL != "/" {
				t.Errorf("%s: servers %+v, %+v", name, s, s.Variables["streamUrl"])
			}
		}
	}
	if len(execute) != 7 {
		t.Errorf("%d execute operations, want 7", len(execute))
	}
	// Unset, the document is served as written.
	if got := httpapi.OpenAPIFor(""); !bytes.Equal(got, httpapi.OpenAPI) ||
		!bytes.Contains(got, []byte(httpapi.StreamURLPlaceholder)) {
		t.Error("OpenAPIFor(\"\") is not the document as written")
	}
}

// A user template runs by its name — in a chat's workflow_template_name and on the
// template execute route — case aside; another user's name is not found.
func TestTemplates_RunByName(t *testing.T) {
	e := newEnv(t, envOpts{})
	id := e.createTemplate(t, "alice") // "helper": memory on, "Be brief."
	run := e.chat(t, "alice", `{"message":"hi","workflow_template_name":"Helper"}`)
	x, err := e.st.GetExecution(t.Context(), "alice", run.ExecutionID)
	if err != nil || x.Source.ID != id {
		t.Fatalf("chat by name ran %+v (%v), want template %s", x, err, id)
	}
	r := e.post(t, "alice", "/api/v1/workflows/templates/helper/execute", `{"input_data":{"message":"hi"}}`)
	if r.StatusCode != 200 || !strings.Contains(string(r.body), id) {
		t.Fatalf("execute by name: %d %s", r.StatusCode, r.body)
	}
	e.do(t, "POST", "bob", "/api/v1/workflows/execute/chat", `{"message":"hi","workflow_template_name":"helper"}`).
		wantField(t, 404, "template")
}
