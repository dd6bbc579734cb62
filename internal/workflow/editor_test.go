package workflow

import (
	"context"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// editorExample parses one of the predecessor's editor's example workflows
// (testdata/editor, from its WorkflowExamples.ts).
func editorExample(t testing.TB, name string) *Definition {
	t.Helper()
	b, err := os.ReadFile("testdata/editor/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(b))
}

var editorExamples = []string{"simple", "rag_with_tools", "parallel_processing"}

func TestEditorExamples_ValidateWithZeroProblems(t *testing.T) {
	for _, name := range editorExamples {
		t.Run(name, func(t *testing.T) {
			for _, p := range Validate(editorExample(t, name), Options{Conditions: testConditions}) {
				t.Errorf("%s %s: %s", p.Code, p.Pointer, p.Message)
			}
		})
	}
}

func TestEditorExamples_CompileAsTheEditorMeantThem(t *testing.T) {
	compileExample := func(t *testing.T, name string) *Graph {
		g, err := Compile(editorExample(t, name), Options{Conditions: testConditions})
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		return g
	}
	at := func(t *testing.T, g *Graph, id string) *Vertex { return &g.Nodes[mustIndex(t, g, id)] }
	temp := func(v float64) *float64 { return &v }

	t.Run("simple", func(t *testing.T) {
		g := compileExample(t, "simple")
		if g.Entry != mustIndex(t, g, "start-1") {
			t.Errorf("entry %d, want start-1", g.Entry)
		}
		m := at(t, g, "model-1")
		if want := (&LLMConfig{Temperature: temp(0.7), MaxTokens: 1000}); m.Kind != KindLLM || !reflect.DeepEqual(m.Config, want) {
			t.Errorf("model-1: %s %+v, want llm %+v", m.Kind, m.Config, want)
		}
		if len(m.Out) != 0 || m.OffersTools {
			t.Errorf("model-1 arcs %+v offers tools %v; want none (the run ends after it)", m.Out, m.OffersTools)
		}
	})

	t.Run("rag_with_tools", func(t *testing.T) {
		g := compileExample(t, "rag_with_tools")
		if mem := at(t, g, "memory-1").Config.(*MemoryConfig); mem.Window != 20 || !mem.Enabled {
			t.Errorf("memory %+v, want window 20 enabled", mem)
		}
		if r := at(t, g, "retrieval-1").Config.(*RetrievalConfig); r.TopK != 5 || r.Collection != "knowledge_base" {
			t.Errorf("retrieval %+v, want top_k 5, collection kept", r)
		}
		m := at(t, g, "model-1")
		if c := m.Config.(*LLMConfig); c.SystemPrompt != "Use the retrieved context to answer questions." || c.MaxTokens != 1000 {
			t.Errorf("model %+v", c)
		}
		// The model routes through the conditional node to the tools: it offers them.
		if !m.OffersTools {
			t.Errorf("model-1 does not offer tools; a tools node follows it through conditional-1")
		}
		c := at(t, g, "conditional-1")
		if c.Cond == nil || c.Cond.Expr != "has_tool_calls" {
			t.Errorf("conditional-1 condition %+v, want should_use_tools as has_tool_calls", c.Cond)
		}
		if tc := at(t, g, "tool-1").Config.(*ToolsConfig); !reflect.DeepEqual(tc.AllowedTools, []string{"web_search", "calculator"}) || tc.Parallel {
			t.Errorf("tools %+v, want both tools, not parallel", tc)
		}
	})

	t.Run("parallel_processing", func(t *testing.T) {
		g := compileExample(t, "parallel_processing")
		if out := at(t, g, "start-1").Out; len(out) != 3 || at(t, g, "start-1").Exclusive {
			t.Errorf("start fans out over %d arcs (exclusive %v), want 3 concurrent", len(out), at(t, g, "start-1").Exclusive)
		}
		if !at(t, g, "model-final").Joins {
			t.Errorf("model-final does not join its three branches")
		}
		if c := at(t, g, "model-2").Config.(*LLMConfig); c.SystemPrompt != "Summarize the input text." || *c.Temperature != 0.5 || c.MaxTokens != 300 {
			t.Errorf("model-2 %+v", c)
		}
	})
}

func TestEditorExamples_WebSearchIsAnUnknownTool(t *testing.T) {
	// chatter has no web search: the example is refused naming it, where it was written.
	builtins := func(name string) bool { return name == "calculator" || name == "current_time" }
	ps := Validate(editorExample(t, "rag_with_tools"), Options{Conditions: testConditions, ToolExists: builtins})
	want := []Problem{{Code: CodeUnknownTool, NodeID: "tool-1", Pointer: "/nodes/5/data/config/tools/0", Message: `tool "web_search" is not registered`}}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("problems %+v, want %+v", ps, want)
	}
}

func TestValidate_ProblemPointersNameTheKeyAsWritten(t *testing.T) {
	tools := func(name string) bool { return name == "calculator" }
	tests := []struct {
		name, node, wantPtr string
	}{
		{"tools alias", `{"id":"x","type":"tools","config":{"tools":["nope"]}}`, "/nodes/1/config/tools/0"},
		{"llm alias", `{"id":"x","type":"llm","data":{"config":{"allowed_tools":["calculator","nope"]}}}`, "/nodes/1/data/config/allowed_tools/1"},
		{"camelCase", `{"id":"x","type":"tools","config":{"allowedTools":["nope"]}}`, "/nodes/1/config/allowedTools/0"},
		{"condition alias", `{"id":"x","type":"conditional","config":{"expression":"(("}}`, "/nodes/1/config/expression"},
		{"break condition", `{"id":"x","type":"loop","config":{"breakCondition":"(("}}`, "/nodes/1/config/breakCondition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, `{"nodes":[{"id":"s","type":"start"},`+tt.node+`],"edges":[{"source":"s","target":"x"}]}`)
			ps := Validate(d, Options{Conditions: testConditions, ToolExists: tools})
			if len(ps) != 1 || ps[0].Pointer != tt.wantPtr || ps[0].NodeID != "x" {
				t.Errorf("problems %+v, want one at %s", ps, tt.wantPtr)
			}
		})
	}
}

func TestValidate_LLMToolsCycleRoutedAtAConditionalNodeIsBounded(t *testing.T) {
	// llm -> conditional -(true)-> tools -> llm: max_tool_calls bounds it as it bounds
	// an llm whose own edge is conditional.
	routedAt := func(cond string) string {
		return `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},` +
			`{"id":"c","type":"conditional","config":{"condition":"` + cond + `"}},{"id":"t","type":"tools"}],` +
			`"edges":[{"source":"s","target":"m"},{"source":"m","target":"c"},{"source":"c","target":"t","sourceHandle":"true"},{"source":"t","target":"m"}]}`
	}
	if ps := Validate(mustParse(t, routedAt("has_tool_calls")), Options{Conditions: testConditions}); ps != nil {
		t.Errorf("problems %+v, want none", ps)
	}
	// A conditional node without a condition or conditional edges does not route.
	unrouted := strings.Replace(routedAt("x"), `"config":{"condition":"x"}`, `"config":{}`, 1)
	ps := Validate(mustParse(t, unrouted), Options{Conditions: testConditions})
	if len(ps) != 1 || ps[0].Code != CodeUnboundedCycle {
		t.Errorf("problems %+v, want unbounded_cycle", ps)
	}
}

func TestCompile_EnabledFalseSkipsOnlyNodesThatDoWork(t *testing.T) {
	doc := func(kind, cfg string) string {
		return `{"nodes":[{"id":"s","type":"start"},{"id":"x","type":"` + kind + `","config":` + cfg + `}],` +
			`"edges":[{"source":"s","target":"x"}]}`
	}
	for _, kind := range []string{"llm", "tools", "retrieval", "delay"} {
		g := mustCompile(t, doc(kind, `{"enabled":false}`))
		if !g.Nodes[1].Disabled {
			t.Errorf("%s with enabled false is not disabled", kind)
		}
	}
	if g := mustCompile(t, doc("variable", `{"enabled":false,"name":"v"}`)); !g.Nodes[1].Disabled {
		t.Errorf("variable with enabled false is not disabled")
	}
	// Memory's enabled is its own: no memory, the node still runs.
	g := mustCompile(t, doc("memory", `{"enabled":false,"window":9}`))
	if mem := g.Nodes[1].Config.(*MemoryConfig); g.Nodes[1].Disabled || mem.Window != 0 || mem.IncludeSummary {
		t.Errorf("memory enabled false: disabled %v config %+v, want a node keeping no history", g.Nodes[1].Disabled, mem)
	}
	for _, kind := range []string{"end", "conditional", "loop", "error_handler"} {
		ps := Validate(mustParse(t, doc(kind, `{"enabled":false}`)), Options{Conditions: testConditions})
		if len(ps) == 0 || ps[0].Code != CodeInvalidConfig || ps[0].Pointer != "/nodes/1/config/enabled" || !strings.Contains(ps[0].Message, "cannot be disabled") {
			t.Errorf("%s enabled false: problems %+v, want invalid_config at /nodes/1/config/enabled", kind, ps)
		}
	}
}

func TestCompile_DisabledToolsNodeIsNotOffered(t *testing.T) {
	doc := func(toolsCfg string) string {
		return `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools","config":` + toolsCfg + `}],` +
			`"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","condition":"has_tool_calls"},{"source":"t","target":"m"}]}`
	}
	if g := mustCompile(t, doc(`{}`)); !g.Nodes[1].OffersTools {
		t.Errorf("llm before an enabled tools node does not offer tools")
	}
	if g := mustCompile(t, doc(`{"enabled":false}`)); g.Nodes[1].OffersTools {
		t.Errorf("llm before a disabled tools node offers tools")
	}
}

func TestCompile_IsEntryPointMarksTheEntry(t *testing.T) {
	// b is marked; a (no incoming edge) would be the entry otherwise.
	d := mustParse(t, `{"nodes":[{"id":"a","type":"variable","config":{"name":"v"}},{"id":"b","type":"llm","config":{"isEntryPoint":true}}],
		"edges":[{"source":"a","target":"b"}]}`)
	ps := Validate(d, Options{Conditions: testConditions})
	if len(ps) != 1 || ps[0].Code != CodeUnreachableNode || ps[0].NodeID != "a" {
		t.Errorf("problems %+v, want a unreachable from the marked entry b", ps)
	}
	// A start node marked too is one entry point; a second marked node is another.
	g := mustCompile(t, `{"nodes":[{"id":"s","type":"start","config":{"isEntryPoint":true}},{"id":"m","type":"llm","config":{"isEntryPoint":false}}],
		"edges":[{"source":"s","target":"m"}]}`)
	if g.Entry != 0 {
		t.Errorf("entry %d, want the start node", g.Entry)
	}
	ps = Validate(mustParse(t, `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm","config":{"isEntryPoint":true}}],
		"edges":[{"source":"s","target":"m"}]}`), Options{Conditions: testConditions})
	if len(ps) != 1 || ps[0].Code != CodeMultipleEntries || ps[0].NodeID != "m" {
		t.Errorf("problems %+v, want multiple_entry_points naming m", ps)
	}
}

func TestCompile_LoopBreakConditionEndsTheLoop(t *testing.T) {
	loop := func(cfg string) *Vertex {
		g := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"loop","config":`+cfg+`},{"id":"v","type":"variable","config":{"name":"n","operation":"increment"}}],
			"edges":[{"source":"s","target":"l"},{"source":"l","target":"v"},{"source":"v","target":"l"},{"source":"l","target":"END"}]}`)
		return &g.Nodes[1]
	}
	tests := []struct {
		cfg, wantExpr string
	}{
		{`{"breakCondition":"has_errors"}`, "!(has_errors)"},
		{`{"condition":"variable n < 3","breakCondition":"has_errors"}`, `(variables["n"] < 3) && !(has_errors)`},
		{`{"condition":"has_errors","breakCondition":""}`, "has_errors"},
		{`{"condition":"","breakCondition":""}`, ""},
	}
	for _, tt := range tests {
		v := loop(tt.cfg)
		got := ""
		if v.Cond != nil {
			got = v.Cond.Expr
		}
		if got != tt.wantExpr {
			t.Errorf("%s: condition %q, want %q", tt.cfg, got, tt.wantExpr)
		}
	}
	// Evaluated: the loop stops when the break condition holds.
	v := loop(`{"breakCondition":"has_errors"}`)
	for _, hasErrors := range []bool{false, true} {
		ok, err := v.Cond.Eval(context.Background(), &Env{HasErrors: hasErrors})
		if err != nil || ok == hasErrors {
			t.Errorf("has_errors %v: continue %v (%v), want %v", hasErrors, ok, err, !hasErrors)
		}
	}
}

func TestKinds_ConfigAliasesListEveryAcceptedSpelling(t *testing.T) {
	for _, spec := range Kinds() {
		for key, field := range spec.ConfigAliases {
			if got, _, ok := specByKind[spec.Kind].resolve(key); !ok || got != field {
				t.Errorf("%s: alias %q listed for %q resolves to %q (%v)", spec.Kind, key, field, got, ok)
			}
			if _, ok := spec.Fields[field]; !ok {
				t.Errorf("%s: alias %q names %q, which Fields does not document", spec.Kind, key, field)
			}
		}
	}
	llm := Kinds()[slices.IndexFunc(Kinds(), func(s *KindSpec) bool { return s.Kind == KindLLM })]
	for key, field := range map[string]string{"systemMessage": "system_prompt", "maxTokens": "max_tokens", "system_message": "system_prompt",
		"timeout": "timeout_ms", "isEntryPoint": "is_entry_point"} {
		if llm.ConfigAliases[key] != field {
			t.Errorf("llm config_aliases[%q] = %q, want %q", key, llm.ConfigAliases[key], field)
		}
	}
}
