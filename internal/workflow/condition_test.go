package workflow

import (
	"context"
	"strings"
	"testing"
)

type evalCase struct {
	env  Env
	want bool
}

func vars(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestCompileCondition_TranslatesPhrasesAndEvaluates(t *testing.T) {
	tests := []struct {
		src   string
		expr  string
		evals []evalCase
	}{
		// Tool calls.
		{"has_tool_calls", "has_tool_calls", []evalCase{{Env{HasToolCalls: true}, true}, {Env{}, false}}},
		{"has tool calls", "has_tool_calls", []evalCase{{Env{HasToolCalls: true}, true}}},
		{"tool_calls_pending", "has_tool_calls", []evalCase{{Env{}, false}}},
		{"HAS_TOOL_CALLS", "has_tool_calls", []evalCase{{Env{HasToolCalls: true}, true}}},
		{"no_tool_calls", "!has_tool_calls", []evalCase{{Env{HasToolCalls: true}, false}, {Env{}, true}}},
		{"no tool calls", "!has_tool_calls", []evalCase{{Env{}, true}}},
		{"!has_tool_calls", "!has_tool_calls", []evalCase{{Env{HasToolCalls: true}, false}}},
		{"not has_tool_calls", "not has_tool_calls", []evalCase{{Env{}, true}}},
		{"tool_calls < 5", "tool_calls < 5", []evalCase{{Env{ToolCalls: 4}, true}, {Env{ToolCalls: 5}, false}}},
		{"tool_calls <= 5", "tool_calls <= 5", []evalCase{{Env{ToolCalls: 5}, true}, {Env{ToolCalls: 6}, false}}},
		{"tool_calls > 5", "tool_calls > 5", []evalCase{{Env{ToolCalls: 6}, true}, {Env{ToolCalls: 5}, false}}},
		{"tool_calls >= 5", "tool_calls >= 5", []evalCase{{Env{ToolCalls: 5}, true}, {Env{ToolCalls: 4}, false}}},
		{"tool_calls == 0", "tool_calls == 0", []evalCase{{Env{}, true}, {Env{ToolCalls: 1}, false}}},
		{"tool_calls != 0", "tool_calls != 0", []evalCase{{Env{}, false}, {Env{ToolCalls: 1}, true}}},
		{"tool_calls >= variable max_tool_calls", `tool_calls >= (variables["max_tool_calls"] ?? max_tool_calls)`, []evalCase{
			{Env{ToolCalls: 3, MaxToolCalls: 3}, true},                                           // no variables: falls back to Env.MaxToolCalls
			{Env{ToolCalls: 2, MaxToolCalls: 3}, false},                                          //
			{Env{ToolCalls: 3, MaxToolCalls: 3, Variables: vars("max_tool_calls", 10.0)}, false}, // the variable wins (JSON number)
			{Env{ToolCalls: 10, MaxToolCalls: 3, Variables: vars("max_tool_calls", 10)}, true},   // int variable
			{Env{ToolCalls: 3, MaxToolCalls: 3, Variables: vars("other", 1)}, true},              // variable absent
		}},
		{"tool_calls<variable limit", `tool_calls<variables["limit"]`, []evalCase{{Env{ToolCalls: 1, Variables: vars("limit", 2.0)}, true}}},

		// Variables.
		{"variable count equals 3", `variables["count"] == 3`, []evalCase{
			{Env{Variables: vars("count", 3.0)}, true}, {Env{Variables: vars("count", 3)}, true},
			{Env{Variables: vars("count", "3")}, false}, {Env{}, false}}},
		{"variable count equals 2.5", `variables["count"] == 2.5`, []evalCase{{Env{Variables: vars("count", 2.5)}, true}}},
		{"variable done equals true", `variables["done"] == true`, []evalCase{{Env{Variables: vars("done", true)}, true}, {Env{Variables: vars("done", "true")}, false}}},
		{"variable done is false", `variables["done"] == false`, []evalCase{{Env{Variables: vars("done", false)}, true}}},
		{"variable tier equals gold", `variables["tier"] == "gold"`, []evalCase{{Env{Variables: vars("tier", "gold")}, true}, {Env{Variables: vars("tier", "Gold")}, false}}},
		{`variable tier equals "gold plated"`, `variables["tier"] == "gold plated"`, []evalCase{{Env{Variables: vars("tier", "gold plated")}, true}}},
		{`variable tier equals '42'`, `variables["tier"] == "42"`, []evalCase{{Env{Variables: vars("tier", "42")}, true}, {Env{Variables: vars("tier", 42.0)}, false}}},
		{"variable user.tier is gold", `variables["user.tier"] == "gold"`, []evalCase{{Env{Variables: vars("user.tier", "gold")}, true}}},
		{"variable tier is not gold", `variables["tier"] != "gold"`, []evalCase{{Env{Variables: vars("tier", "silver")}, true}, {Env{Variables: vars("tier", "gold")}, false}}},
		{"variable tier not equals gold", `variables["tier"] != "gold"`, []evalCase{{Env{}, true}}},
		{"variable tier != gold", `variables["tier"] != "gold"`, []evalCase{{Env{Variables: vars("tier", "gold")}, false}}},
		{"variable tier == gold", `variables["tier"] == "gold"`, []evalCase{{Env{Variables: vars("tier", "gold")}, true}}},
		{"variable n > 2", `variables["n"] > 2`, []evalCase{{Env{Variables: vars("n", 3.0)}, true}, {Env{Variables: vars("n", 2)}, false}}},
		{"variable n >= 2", `variables["n"] >= 2`, []evalCase{{Env{Variables: vars("n", 2)}, true}}},
		{"variable n < 2", `variables["n"] < 2`, []evalCase{{Env{Variables: vars("n", 1.5)}, true}}},
		{"variable n <= 2", `variables["n"] <= 2`, []evalCase{{Env{Variables: vars("n", 3)}, false}}},
		{"variable tags contains vip", `variables["tags"] contains "vip"`, []evalCase{{Env{Variables: vars("tags", "gold,vip")}, true}, {Env{Variables: vars("tags", "gold")}, false}}},
		{"variable x exists", `variables["x"] != nil`, []evalCase{{Env{Variables: vars("x", 0)}, true}, {Env{}, false}}},
		{"variable x is set", `variables["x"] != nil`, []evalCase{{Env{Variables: vars("x", "")}, true}}},
		{"variable x is empty", `(variables["x"] ?? "") in ["", nil]`, []evalCase{
			{Env{}, true}, {Env{Variables: vars("x", "")}, true}, {Env{Variables: vars("x", nil)}, true}, {Env{Variables: vars("x", "a")}, false}}},

		// Message (case-insensitive).
		{"message contains Refund", `lower(message) contains "refund"`, []evalCase{{Env{Message: "I want a REFUND now"}, true}, {Env{Message: "hello"}, false}}},
		{`message contains "money back"`, `lower(message) contains "money back"`, []evalCase{{Env{Message: "Money Back please"}, true}}},
		{"message starts with Hello", `lower(message) startsWith "hello"`, []evalCase{{Env{Message: "HELLO there"}, true}, {Env{Message: "oh hello"}, false}}},
		{"message ends with ?", `lower(message) endsWith "?"`, []evalCase{{Env{Message: "why?"}, true}, {Env{Message: "because."}, false}}},
		{"message equals 'Yes'", `lower(message) == "yes"`, []evalCase{{Env{Message: "yEs"}, true}, {Env{Message: "yes!"}, false}}},

		// Errors.
		{"has_errors", "has_errors", []evalCase{{Env{HasErrors: true}, true}, {Env{}, false}}},
		{"has errors", "has_errors", []evalCase{{Env{HasErrors: true}, true}}},
		{"no_errors", "!has_errors", []evalCase{{Env{HasErrors: true}, false}, {Env{}, true}}},
		{"no errors", "!has_errors", []evalCase{{Env{}, true}}},
		{"!has_errors", "!has_errors", []evalCase{{Env{HasErrors: true}, false}}},

		// Loops, with an id containing '-' and '_'.
		{"loop_my-loop_continue", `(loop["my-loop"]?.continue ?? false)`, []evalCase{
			{Env{Loop: map[string]*LoopInfo{"my-loop": {Continue: true}}}, true},
			{Env{Loop: map[string]*LoopInfo{"my-loop": {Continue: false}}}, false},
			{Env{Loop: map[string]*LoopInfo{"other": {Continue: true}}}, false},
			{Env{}, false}}},
		{"loop_my-loop_done", `!(loop["my-loop"]?.continue ?? false)`, []evalCase{
			{Env{Loop: map[string]*LoopInfo{"my-loop": {Continue: true}}}, false},
			{Env{}, true}}},
		{"loop_a_b_exit", `!(loop["a_b"]?.continue ?? false)`, []evalCase{{Env{Loop: map[string]*LoopInfo{"a_b": {Continue: false}}}, true}}},
		{"loop_x_complete", `!(loop["x"]?.continue ?? false)`, []evalCase{{Env{}, true}}},

		// Combinations: AND binds tighter than OR.
		{"has_tool_calls AND tool_calls < 3", "has_tool_calls && tool_calls < 3", []evalCase{
			{Env{HasToolCalls: true, ToolCalls: 2}, true}, {Env{HasToolCalls: true, ToolCalls: 3}, false}, {Env{ToolCalls: 0}, false}}},
		{"has_errors OR message contains help", `has_errors || (lower(message) contains "help")`, []evalCase{
			{Env{HasErrors: true}, true}, {Env{Message: "HELP"}, true}, {Env{Message: "hi"}, false}}},
		{"has_errors OR has_tool_calls AND tool_calls < 3", "has_errors || has_tool_calls && tool_calls < 3", []evalCase{
			{Env{HasErrors: true, ToolCalls: 5}, true}, {Env{HasToolCalls: true, ToolCalls: 5}, false}, {Env{HasToolCalls: true, ToolCalls: 1}, true}}},

		// Phrases are names and operators anywhere inside an expression: negated,
		// parenthesised, nested; a quoted value is one token, never split.
		{"not loop_L_continue", `not (loop["L"]?.continue ?? false)`, []evalCase{
			{Env{Loop: map[string]*LoopInfo{"L": {Continue: true}}}, false}, {Env{}, true}}},
		{"NOT loop_my-loop_continue", `! (loop["my-loop"]?.continue ?? false)`, []evalCase{
			{Env{Loop: map[string]*LoopInfo{"my-loop": {Continue: true}}}, false}, {Env{}, true}}},
		{"!no_tool_calls", `!(!has_tool_calls)`, []evalCase{{Env{HasToolCalls: true}, true}, {Env{}, false}}},
		{`message contains "x or y"`, `lower(message) contains "x or y"`, []evalCase{
			{Env{Message: "say X OR Y"}, true}, {Env{Message: "x"}, false}}},
		{`message contains "a AND b" OR has_errors`, `(lower(message) contains "a and b") || has_errors`, []evalCase{
			{Env{Message: "a and b"}, true}, {Env{HasErrors: true}, true}, {Env{Message: "a"}, false}}},
		{`(has_tool_calls OR variable mode equals "tools") AND NOT (tool_calls >= 3 OR has_errors)`,
			`(has_tool_calls || (variables["mode"] == "tools")) && ! (tool_calls >= 3 || has_errors)`, []evalCase{
				{Env{HasToolCalls: true, ToolCalls: 1}, true}, {Env{Variables: vars("mode", "tools")}, true},
				{Env{HasToolCalls: true, ToolCalls: 3}, false}, {Env{HasToolCalls: true, HasErrors: true}, false}, {Env{}, false}}},
		{"not (variable x equals 1 and message starts with hi)", `not ((variables["x"] == 1) and (lower(message) startsWith "hi"))`, []evalCase{
			{Env{Variables: vars("x", 1), Message: "Hi there"}, false}, {Env{Variables: vars("x", 2), Message: "hi"}, true}}},
		{"loop_L_continue && tool_calls < variable max_tool_calls", `(loop["L"]?.continue ?? false) && tool_calls < (variables["max_tool_calls"] ?? max_tool_calls)`, []evalCase{
			{Env{Loop: map[string]*LoopInfo{"L": {Continue: true}}, ToolCalls: 1, MaxToolCalls: 2}, true},
			{Env{Loop: map[string]*LoopInfo{"L": {Continue: true}}, ToolCalls: 2, MaxToolCalls: 2}, false}}},
		{"variable tier is not gold AND no errors", `(variables["tier"] != "gold") && (!has_errors)`, []evalCase{
			{Env{Variables: vars("tier", "x")}, true}, {Env{Variables: vars("tier", "gold")}, false}}},
		{`has_errors ? message contains 'it\'s' : true`, `has_errors ? (lower(message) contains "it's") : true`, []evalCase{
			{Env{HasErrors: true, Message: "It's"}, true}, {Env{HasErrors: true, Message: "its"}, false}, {Env{}, true}}},

		// Native expressions pass through unchanged.
		{"variables.count > 2", "variables.count > 2", []evalCase{{Env{Variables: vars("count", 3.0)}, true}, {Env{Variables: vars("count", 1)}, false}}},
		{"len(errors) == 0", "len(errors) == 0", []evalCase{{Env{}, true}, {Env{Errors: []string{"boom"}}, false}}},
		{`response contains "DONE"`, `response contains "DONE"`, []evalCase{{Env{Response: "ok DONE"}, true}}},
		{"loop.L.iteration < loop.L.max_iterations", "loop.L.iteration < loop.L.max_iterations", []evalCase{
			{Env{Loop: map[string]*LoopInfo{"L": {Iteration: 1, MaxIterations: 3}}}, true}}},

		// Constants.
		{"true", "true", []evalCase{{Env{}, true}}},
		{"always", "true", []evalCase{{Env{}, true}}},
		{"  Always  ", "true", []evalCase{{Env{}, true}}},
		{"false", "false", []evalCase{{Env{}, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			x, err := TranslateCondition(tt.src)
			if err != nil || x != tt.expr {
				t.Fatalf("TranslateCondition = %q, %v; want %q", x, err, tt.expr)
			}
			c, err := CompileCondition(testConditions, tt.src)
			if err != nil {
				t.Fatalf("CompileCondition: %v", err)
			}
			if c.Source != tt.src || c.Expr != tt.expr {
				t.Errorf("Condition{Source: %q, Expr: %q}", c.Source, c.Expr)
			}
			for i, ec := range tt.evals {
				got, err := c.Eval(context.Background(), &ec.env)
				if err != nil || got != ec.want {
					t.Errorf("eval %d with %+v = %v, %v; want %v", i, ec.env, got, err, ec.want)
				}
			}
		})
	}
}

func TestCompileCondition_RejectsWhatDoesNotCompile(t *testing.T) {
	tests := []struct{ src, wantInErr string }{
		{"", "empty condition"},
		{"   ", "empty condition"},
		{"foo bar", "does not compile"},
		{"tool_calls >", "does not compile"},
		{"unknown_ident == 1", "does not compile"},
		{"1 + 2", "does not compile"},
		{`"a string"`, "does not compile"},
		{"variable x equals", "does not compile"},
		{"has_tool_calls AND  AND no_errors", "empty condition"},
		{"has_tool_calls AND bogus thing", "does not compile"},
		{"message contains", "does not compile"},
		{"has_errors AND", "empty condition after AND"},
		{"OR has_errors", "empty condition before OR"},
		{"(has_errors OR) AND no_errors", "empty condition after OR"},
		{`message contains "x or y`, "unterminated string"},
		{"loop_continue", "loop_continue"}, // no loop id: a name chatter does not know, named
		{"has_tool_call", "has_tool_call"}, // a misspelt phrase is named
		{"variable x equals AND has_errors", "needs a value"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, err := CompileCondition(testConditions, tt.src)
			if err == nil {
				t.Fatalf("CompileCondition(%q) = %+v, want an error", tt.src, c)
			}
			if c != nil {
				t.Errorf("a condition was returned with the error")
			}
			if !strings.Contains(err.Error(), tt.wantInErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tt.wantInErr)
			}
		})
	}
}

func TestConditionEval_RuntimeFailureIsErrorNotTrue(t *testing.T) {
	tests := []struct {
		src string
		env Env
	}{
		{"variable n > 2", Env{}},
		{"variable n > 2", Env{Variables: vars("n", "three")}},
		{"tool_calls < variable limit", Env{}},
		{"variables.count > 2", Env{Variables: vars()}},
		{"variable tags contains vip", Env{Variables: vars("tags", 7)}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, err := CompileCondition(testConditions, tt.src)
			if err != nil {
				t.Fatalf("CompileCondition: %v", err)
			}
			got, err := c.Eval(context.Background(), &tt.env)
			if err == nil || got {
				t.Errorf("Eval = %v, %v; want false and an error", got, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.src) {
				t.Errorf("error %q does not name the condition", err)
			}
		})
	}
}
