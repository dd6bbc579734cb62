package resources_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/userexpr"
	"github.com/chatterhq/chatter/internal/workflow"
)

// within runs f and fails the test if it has not returned by the deadline.
func within[T any](t *testing.T, d time.Duration, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("no answer after %s", d)
		var zero T
		return zero
	}
}

// inlineBody is an inline run whose edge "hot" carries cond.
func inlineBody(t *testing.T, msg, cond string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"message": msg,
		"nodes": []map[string]any{{"id": "s", "type": "start"}, {"id": "llm", "type": "llm"}},
		"edges": []map[string]any{{"source": "s", "target": "llm"},
			{"id": "hot", "source": "llm", "target": "END", "condition": cond}, {"source": "llm", "target": "END"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The inline route runs a user's graph as given: a condition that would pin a core
// (the issue: ~65 s on 15 KB) answers 422 expression_budget_exceeded naming the edge.
func TestInlineRun_ConditionOverBudgetIs422NamingTheEdge(t *testing.T) {
	e := newEnv(t, envOpts{})
	body := inlineBody(t, strings.Repeat("abcdefghij", 1500), `any(split(message, ""), {any(split(message, ""), {# == "z"})})`)
	r := within(t, 30*time.Second, func() response { return e.post(t, "alice", "/api/v1/workflows/definitions/custom/execute", body) })
	p := r.problem(t)
	if r.StatusCode != 422 || p.Code != errcode.ExpressionBudget || !strings.Contains(p.Detail, `edge "hot"`) || p.ExecutionID == "" {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	if strings.Contains(string(r.body), "abcdefghij") {
		t.Errorf("the problem quotes the user's message: %s", r.body)
	}
	x := e.get(t, "alice", "/api/v1/executions/"+p.ExecutionID)
	if x.StatusCode != 200 || !strings.Contains(string(x.body), `"`+errcode.ExpressionBudget+`"`) {
		t.Errorf("execution: %d %s", x.StatusCode, x.body)
	}
}

// A function outside the allowlist is refused before anything runs or is stored: a
// 4xx naming the function and pointing at the condition.
func TestDefinitions_ConditionOutsideTheAllowlistIsRefusedNamingIt(t *testing.T) {
	e := newEnv(t, envOpts{})
	issue := `len(repeat(repeat("a", 999999), 1000000)) > 0`
	for _, path := range []string{"/api/v1/workflows/definitions/custom/execute", "/api/v1/workflows/definitions"} {
		body := inlineBody(t, "hi", issue)
		if !strings.HasSuffix(path, "execute") {
			body = strings.Replace(body, `"message":"hi"`, `"name":"x"`, 1)
		}
		r := within(t, 30*time.Second, func() response { return e.post(t, "alice", path, body) })
		p := r.problem(t)
		if r.StatusCode/100 != 4 || p.Code != "invalid_workflow" ||
			!slices.ContainsFunc(p.Errors, func(f httpcore.FieldError) bool {
				return f.Code == "invalid_condition" && f.Field == "/edges/1/condition" && strings.Contains(f.Message, "repeat")
			}) {
			t.Errorf("%s: %d %s", path, r.StatusCode, r.body)
		}
	}
	if l := e.get(t, "alice", "/api/v1/workflows/definitions"); !strings.Contains(string(l.body), `"definitions":[]`) {
		t.Errorf("a refused definition was stored: %s", l.body)
	}
}

// The modern node-types catalogue documents the allowlist and the budgets
// conditions run on (GET /node-types is the predecessor's bare array).
func TestCatalog_NodeTypesDocumentTheConditionLanguage(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.get(t, "alice", "/api/v1/workflows/node-types/modern")
	var c struct {
		Conditions struct {
			Functions []userexpr.Doc    `json:"functions"`
			Variables map[string]string `json:"variables"`
			Budgets   map[string]int64  `json:"budgets"`
		} `json:"conditions"`
	}
	r.json(t, &c)
	var names []string
	for _, f := range c.Conditions.Functions {
		names = append(names, f.Name)
	}
	var want []string
	for _, f := range userexpr.Library() {
		want = append(want, f.Name)
	}
	if r.StatusCode != 200 || !slices.Equal(names, want) || slices.Contains(names, "repeat") || c.Conditions.Variables["message"] == "" {
		t.Fatalf("%d %s", r.StatusCode, r.body)
	}
	d := userexpr.DefaultLimits
	if b := c.Conditions.Budgets; b["steps"] != int64(d.Steps) || b["bytes"] != int64(d.Bytes) || b["elements"] != int64(d.Elements) ||
		b["time_ms"] != d.Time.Milliseconds() {
		t.Errorf("budgets %v, want %+v", b, d)
	}
}

// A validating route built without NewValidation fails closed: 500, never a
// definition accepted unchecked.
func TestValidatingRoutes_WithoutValidationFailClosed(t *testing.T) {
	e := newEnv(t, envOpts{noValidation: true})
	const id = "01JSAMPLEDEFINITION0000000"
	ctx := context.Background()
	graph := `{"name":"x","nodes":[{"id":"s","type":"start"}],"edges":[{"source":"s","target":"END"}]}`
	d, err := workflow.Parse([]byte(graph))
	if err != nil {
		t.Fatal(err)
	}
	st := e.st.(*store.Memory)
	if err := st.CreateDefinition(ctx, &store.Definition{ID: id, UserID: "alice", Graph: *d}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutTemplate(ctx, "alice", &workflow.Template{ID: id, Name: "mine"}); err != nil {
		t.Fatal(err)
	}
	template := `{"name":"helper","description":"Answers briefly."}`
	bodies := map[string]string{
		resources.PathDefinitionCreate: graph, resources.PathDefinitionValidate: graph, resources.PathDefinitionUpdate: graph,
		resources.PathDefinitionFromTemplate: `{"template_id":"general_chat","name":"my chat"}`,
		resources.PathTemplateCreate:         template, resources.PathTemplateUpdate: template,
		resources.PathTemplateValidate: `{"template":` + template + `}`, resources.PathTemplateImport: `{"template":` + template + `}`,
	}
	n := 0
	for _, r := range resources.Routes(resources.Deps{}) {
		if !r.Validates() {
			continue
		}
		n++
		method, path, _ := strings.Cut(r.Pattern, " ")
		resp := e.do(t, method, "alice", strings.ReplaceAll(path, "{id}", id), bodies[r.Pattern])
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s without validation: %d %s", r.Pattern, resp.StatusCode, resp.body)
		}
	}
	if n == 0 {
		t.Fatal("no route validates")
	}
}
