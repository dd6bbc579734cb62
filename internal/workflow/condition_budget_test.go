package workflow

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/userexpr"
)

// The issue's examples, verbatim.
const (
	issueOOM     = `len(repeat(repeat("a", 999999), 1000000)) > 0`
	issueCPU     = `any(split(message, ""), {any(split(message, ""), {# == "z"})})`
	messageCap   = 100_000 // store.DefaultMaxContentBytes; workflow cannot import store
	evalDeadline = 20 * time.Second
)

// evalWithin evaluates c in a goroutine and fails the test when it has not ended by
// the deadline: an evaluation that pins a core must fail here, not hang the package.
func evalWithin(t *testing.T, ctx context.Context, c *Condition, env *Env) (bool, error) {
	t.Helper()
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		ok, err := c.Eval(ctx, env)
		done <- result{ok, err}
	}()
	select {
	case r := <-done:
		return r.ok, r.err
	case <-time.After(evalDeadline):
		t.Fatalf("condition %.60q still evaluating after %s", c.Source, evalDeadline)
		return false, nil
	}
}

func TestCompileCondition_RefusesFunctionsOutsideTheAllowlistNamingThem(t *testing.T) {
	for src, name := range map[string]string{
		issueOOM:                                    "repeat",
		`replace(message, "a", "b") == ""`:          "replace",
		`join(errors, ",") contains "x"`:            "join",
		`len(toJSON(variables)) > 1`:                "toJSON",
		`now() != nil`:                              "now",
		`reduce(errors, #acc + #, "") == ""`:        "reduce",
		`has_tool_calls AND repeat("a", 2) == "aa"`: "repeat",
	} {
		c, err := CompileCondition(testConditions, src)
		if err == nil {
			t.Errorf("CompileCondition(%q) compiled; want it refused naming %s", src, name)
			continue
		}
		var ne *userexpr.NotAllowedError
		if c != nil || !errors.As(err, &ne) || ne.What != name || !strings.Contains(err.Error(), name) {
			t.Errorf("CompileCondition(%q) = %v, %v; want a refusal naming %s", src, c, err, name)
		}
	}
	long := "has_tool_calls AND " + strings.Repeat("x", MaxConditionLength)
	if _, err := CompileCondition(testConditions, long); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("a %d-byte condition: %v, want too long", len(long), err)
	}
}

// A disallowed function is a validation problem naming it, with the edge or node,
// never a runtime surprise.
func TestValidate_DisallowedFunctionIsAnInvalidConditionNamingIt(t *testing.T) {
	d := mustParse(t, `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},
		{"id":"L","type":"loop","config":{"condition":"len(repeat(message, 3)) > 1"}}],
	 "edges":[{"source":"s","target":"a"},{"id":"boom","source":"a","target":"L","condition":`+jsonString(issueOOM)+`},
		{"source":"a","target":"END"},{"source":"L","target":"a"},{"source":"L","target":"END"}]}`)
	ps := Validate(d, Options{Conditions: testConditions})
	var edge, node bool
	for _, p := range ps {
		if p.Code != CodeInvalidCondition || !strings.Contains(p.Message, "repeat") {
			t.Errorf("unexpected problem %+v", p)
		}
		edge = edge || p.EdgeID == "boom" && p.Pointer == "/edges/1/condition"
		node = node || p.NodeID == "L" && strings.HasSuffix(p.Pointer, "/condition")
	}
	if !edge || !node {
		t.Errorf("problems %+v, want invalid_condition on edge boom and on node L", ps)
	}
}

func jsonString(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// The issue's second example ran ~65 s on a 15 KB message (16 min at the cap), and
// its variants double strings exponentially in the expression's size. Each ends with
// expression_budget_exceeded, having allocated a bounded amount.
func TestConditionEval_AmplifiersEndWithABudgetError(t *testing.T) {
	doubling := "message + message"
	for range 30 {
		doubling = "(let s = " + doubling + "; s + s)"
	}
	nested := "len(#) > 0"
	for range 30 {
		nested = "any([# + #], {" + nested + "})"
	}
	tests := []struct {
		name, src string
		msgLen    int
	}{
		{"issue example at 15 KB", issueCPU, 15_000},
		{"issue example at the message cap", issueCPU, messageCap},
		{"closures nested over ranges", `let r = 1..1000; any(r, {any(r, {any(r, {# < 0})})})`, 10},
		{"let doubling", "len(" + doubling + ") > 0", 15_000},
		{"string + in nested closures", "any([message], {" + nested + "})", 15_000},
		{"a predecessor phrase over a huge split", `message contains x AND len(map(split(message, ""), split(message, ""))) > 0`, 15_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CompileCondition(testConditions, tt.src)
			if err != nil {
				t.Fatalf("CompileCondition: %v", err)
			}
			env := &Env{Message: strings.Repeat("abcdefghiX", tt.msgLen/10)}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ok, err := evalWithin(t, context.Background(), c, env)
			runtime.ReadMemStats(&after)
			var be *userexpr.BudgetError
			if ok || !errors.As(err, &be) {
				t.Fatalf("Eval = %v, %v; want a BudgetError", ok, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tt.src)[:20]) {
				t.Errorf("error %q does not name the condition", err)
			}
			if mem := after.TotalAlloc - before.TotalAlloc; mem > 64<<20 {
				t.Errorf("allocated %d MiB", mem>>20)
			}
		})
	}
}

func TestConditionEval_StopsWhenTheContextIsDone(t *testing.T) {
	c, err := CompileCondition(testConditions, issueCPU)
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Message: strings.Repeat("abcdefghij", messageCap/10)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ok, err := evalWithin(t, ctx, c, env)
	if ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("Eval on a cancelled context = %v, %v; want an error wrapping context.Canceled", ok, err)
	}
	var be *userexpr.BudgetError
	if errors.As(err, &be) {
		t.Errorf("cancellation reported as a budget: %v", err)
	}
}

// A routing failure names the node and, for an edge condition, the edge.
func TestNext_ConditionErrorNamesNodeAndEdge(t *testing.T) {
	g := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},
		{"id":"C","type":"conditional","config":{"condition":`+jsonString(issueCPU)+`}}],
	 "edges":[{"source":"s","target":"a"},{"id":"hot","source":"a","target":"C","condition":`+jsonString(issueCPU)+`},
		{"source":"a","target":"END"},{"source":"C","target":"END","sourceHandle":"true"},{"source":"C","target":"END","sourceHandle":"false"}]}`)
	env := &Env{Message: strings.Repeat("abcdefghij", 1500)}
	for _, tc := range []struct{ from, node, edge string }{{"a", "a", "hot"}, {"C", "C", ""}} {
		_, err := g.Next(context.Background(), nil, mustIndex(t, g, tc.from), env)
		var ce *ConditionError
		var be *userexpr.BudgetError
		if !errors.As(err, &ce) || ce.NodeID != tc.node || ce.EdgeID != tc.edge || !errors.As(err, &be) {
			t.Fatalf("Next(%s) error %v, want a ConditionError at node %q edge %q wrapping a BudgetError", tc.from, err, tc.node, tc.edge)
		}
		want := `node "` + tc.node + `"`
		if tc.edge != "" {
			want = `edge "` + tc.edge + `"`
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "abcdefghij") {
			t.Errorf("error %q: want it to name %s and not quote the message", err, want)
		}
	}
}

// FuzzConditionEval compiles arbitrary conditions and evaluates the ones that compile
// against a populated run state, within the default budgets: every input ends, in
// time, with a bool or an error of one line; none panics or allocates without bound.
func FuzzConditionEval(f *testing.F) {
	for _, s := range []string{
		issueOOM, issueCPU, "has_tool_calls", "tool_calls >= variable max_tool_calls", "variable tier equals gold",
		"message contains refund OR has_errors", "loop_L_continue", `lower(message) contains "refund"`,
		`any(errors, {# contains "timeout"})`, `len(split(message, " ")) > 3`, `variables.n + 1 > 2`,
		`let s = message + message; let t = s + s; len(t + t) > 0`, `any([message], {any([# + #], {len(#) > 0})})`,
		`count(1..100, # % 7 == 0) == 14`, `(variables.list ?? [])[0] == "a"`, `int(variables.n) == 3 && float("2.5") > 2`,
		`message matches "^[a-z]+"`, `loop.L.iteration < loop.L.max_iterations`, `upper(response) startsWith "OK"`,
	} {
		f.Add(s)
	}
	env := &Env{HasToolCalls: true, ToolCalls: 2, MaxToolCalls: 5, HasErrors: true,
		Message: strings.Repeat("Refund my order, please! ", 80), Response: "OK, done.",
		Errors: []string{"llm: timeout", "tools: boom"},
		Loop:   map[string]*LoopInfo{"L": {Iteration: 1, MaxIterations: 3, Continue: true}},
		Variables: map[string]any{"n": 3.0, "tier": "gold", "max_tool_calls": 4, "list": []any{"a", "b"},
			"obj": map[string]any{"k": "v"}, "s": strings.Repeat("xy", 500)},
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := CompileCondition(testConditions, src)
		if err != nil {
			if err.Error() == "" || strings.Contains(err.Error(), "\n") {
				t.Fatalf("CompileCondition(%q) error %q, want one line", src, err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ok, err := evalWithin(t, ctx, c, env)
		runtime.ReadMemStats(&after)
		if err != nil && ok {
			t.Fatalf("Eval(%q) = true with error %v", src, err)
		}
		if err != nil && (err.Error() == "" || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("Eval(%q) error %q, want one line", src, err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Eval(%q) outlived its 5 s context; the time budget is %s", src, userexpr.DefaultLimits.Time)
		}
		if mem := after.TotalAlloc - before.TotalAlloc; mem > 128<<20 {
			t.Fatalf("Eval(%q) allocated %d MiB", src, mem>>20)
		}
	})
}
