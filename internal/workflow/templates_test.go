package workflow

import (
	"reflect"
	"strings"
	"testing"
)

var builtinNames = []string{
	"blog_writing_assistant", "code_assistant", "customer_support", "data_analyst", "document_qa",
	"document_reviewer", "general_chat", "learning_tutor", "meeting_summarizer", "research_assistant", "universal_chat",
}

func kindsOf(g *Graph) map[Kind]int {
	m := map[Kind]int{}
	for _, v := range g.Nodes {
		m[v.Kind]++
	}
	return m
}

// checkCapabilities asserts the graph has start, llm and end once each, and
// memory/retrieval/tools exactly when enabled.
func checkCapabilities(t *testing.T, g *Graph, c Capabilities) {
	t.Helper()
	want := map[Kind]int{KindStart: 1, KindLLM: 1, KindEnd: 1}
	for k, on := range map[Kind]bool{KindMemory: c.Memory, KindRetrieval: c.Retrieval, KindTools: c.Tools} {
		if on {
			want[k] = 1
		}
	}
	if got := kindsOf(g); !reflect.DeepEqual(got, want) {
		t.Errorf("node kinds %v, want %v for %+v", got, want, c)
	}
	if g.Nodes[g.Entry].Kind != KindStart {
		t.Errorf("entry is %s, want start", g.Nodes[g.Entry].Kind)
	}
}

func vertexOf(g *Graph, k Kind) *Vertex {
	for i := range g.Nodes {
		if g.Nodes[i].Kind == k {
			return &g.Nodes[i]
		}
	}
	return nil
}

func TestBuiltins_AllElevenExistSortedByName(t *testing.T) {
	var got []string
	for _, tpl := range Builtins() {
		got = append(got, tpl.Name)
		if !tpl.Builtin || tpl.ID != tpl.Name || tpl.Description == "" || tpl.Category == "" || tpl.Params.SystemPrompt == "" {
			t.Errorf("template %s: builtin %v id %q description %q category %q", tpl.Name, tpl.Builtin, tpl.ID, tpl.Description, tpl.Category)
		}
	}
	if !reflect.DeepEqual(got, builtinNames) {
		t.Errorf("built-ins %v, want %v", got, builtinNames)
	}
	if _, ok := Builtin("no_such_template"); ok {
		t.Errorf("Builtin found a template that does not exist")
	}
}

func TestBuiltins_CompileWithCapabilitiesAndParams(t *testing.T) {
	for _, name := range builtinNames {
		t.Run(name, func(t *testing.T) {
			tpl, ok := Builtin(name)
			if !ok {
				t.Fatalf("built-in %s missing", name)
			}
			g, err := tpl.Graph(testConditions)
			if err != nil {
				t.Fatalf("Graph: %v", err)
			}
			if g2, _ := tpl.Graph(testConditions); g2 != g {
				t.Errorf("Graph is not cached")
			}
			if g.Def.Name != name || g.Def.ID != name {
				t.Errorf("definition name %q id %q", g.Def.Name, g.Def.ID)
			}
			checkCapabilities(t, g, tpl.Capabilities)
			p := tpl.Params

			llm := vertexOf(g, KindLLM).Config.(*LLMConfig)
			if llm.SystemPrompt != p.SystemPrompt || llm.MaxTokens != p.MaxTokens || llm.Provider != p.Provider || llm.Model != p.Model ||
				!reflect.DeepEqual(llm.Temperature, p.Temperature) {
				t.Errorf("llm config %+v does not carry params %+v", llm, p)
			}
			if v := vertexOf(g, KindMemory); v != nil && v.Config.(*MemoryConfig).Window != p.MemoryWindow {
				t.Errorf("memory window %d, want %d", v.Config.(*MemoryConfig).Window, p.MemoryWindow)
			}
			if v := vertexOf(g, KindRetrieval); v != nil {
				want := p.TopK
				if want == 0 {
					want = DefaultTopK
				}
				if got := v.Config.(*RetrievalConfig).TopK; got != want {
					t.Errorf("retrieval top_k %d, want %d", got, want)
				}
			}
			if v := vertexOf(g, KindTools); v != nil {
				cfg := v.Config.(*ToolsConfig)
				if cfg.MaxToolCalls != p.MaxToolCalls || !reflect.DeepEqual(cfg.AllowedTools, p.AllowedTools) {
					t.Errorf("tools config %+v, want max %d allowed %v", cfg, p.MaxToolCalls, p.AllowedTools)
				}
				// llm -> tools only while the model asks for tools; tools -> llm.
				l := vertexOf(g, KindLLM)
				var toTools *Arc
				for i := range l.Out {
					if l.Out[i].Target == v.Index {
						toTools = &l.Out[i]
					}
				}
				if toTools == nil || toTools.Cond == nil || toTools.Cond.Expr != "has_tool_calls" {
					t.Errorf("llm->tools arc %+v, want condition has_tool_calls", toTools)
				}
				if len(v.Out) != 1 || v.Out[0].Target != l.Index {
					t.Errorf("tools arcs %+v, want one back to llm", v.Out)
				}
			}
		})
	}
}

func TestDynamicGraph_EveryCapabilityComboCompilesOnce(t *testing.T) {
	for i := range 8 {
		c := Capabilities{Memory: i&1 != 0, Retrieval: i&2 != 0, Tools: i&4 != 0}
		g, err := DynamicGraph(testConditions, c)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		g2, err2 := DynamicGraph(testConditions, c)
		if g2 != g || err2 != nil {
			t.Errorf("%+v: second call returned a different graph", c)
		}
		checkCapabilities(t, g, c)
		if g.Def.Name != "universal_chat" {
			t.Errorf("%+v: name %q", c, g.Def.Name)
		}
	}
}

func TestValidateTemplate_PointsIntoTheTemplate(t *testing.T) {
	hot, ok := 2.5, 0.5
	tests := []struct {
		name string
		tpl  *Template
		opts Options
		want []finding
	}{
		{"valid", &Template{Name: "mine", Capabilities: Capabilities{Memory: true, Tools: true}, Params: Params{Temperature: &ok, AllowedTools: []string{"calculator"}}},
			Options{Conditions: testConditions, ToolExists: func(string) bool { return true }}, nil},
		{"temperature out of range", &Template{Name: "hot", Params: Params{Temperature: &hot}}, Options{Conditions: testConditions},
			[]finding{{CodeInvalidConfig, "", "", "/params/temperature"}}},
		{"empty name", &Template{}, Options{Conditions: testConditions},
			[]finding{{CodeInvalidConfig, "", "", "/name"}}},
		{"long name", &Template{Name: strings.Repeat("n", MaxNameLen+1)}, Options{Conditions: testConditions},
			[]finding{{CodeInvalidConfig, "", "", "/name"}}},
		{"the old contract's longest name, in characters", &Template{Name: strings.Repeat("é", MaxNameLen)}, Options{Conditions: testConditions}, nil},
		{"memory window maps back to its param", &Template{Name: "m", Capabilities: Capabilities{Memory: true}, Params: Params{MemoryWindow: 500}}, Options{Conditions: testConditions},
			[]finding{{CodeInvalidConfig, "", "", "/params/memory_window"}}},
		{"max tokens and top_k", &Template{Name: "m", Capabilities: Capabilities{Retrieval: true}, Params: Params{MaxTokens: 300000, TopK: 51}}, Options{Conditions: testConditions},
			[]finding{{CodeInvalidConfig, "", "", "/params/top_k"}, {CodeInvalidConfig, "", "", "/params/max_tokens"}}},
		{"unknown tool names its index", &Template{Name: "t", Capabilities: Capabilities{Tools: true}, Params: Params{AllowedTools: []string{"calculator", "ghost"}}},
			Options{Conditions: testConditions, ToolExists: func(n string) bool { return n == "calculator" }},
			[]finding{{CodeUnknownTool, "", "", "/params/allowed_tools/1"}}},
		{"everything at once", &Template{Capabilities: Capabilities{Tools: true}, Params: Params{Temperature: &hot, MaxToolCalls: 51}}, Options{Conditions: testConditions},
			[]finding{{CodeInvalidConfig, "", "", "/name"}, {CodeInvalidConfig, "", "", "/params/temperature"}, {CodeInvalidConfig, "", "", "/params/max_tool_calls"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findings(t, ValidateTemplate(tt.tpl, tt.opts))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBuiltins_ValidAsTemplates(t *testing.T) {
	for _, tpl := range Builtins() {
		if ps := ValidateTemplate(tpl, Options{Conditions: testConditions}); ps != nil {
			t.Errorf("%s: %+v", tpl.Name, ps)
		}
	}
}
