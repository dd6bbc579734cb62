package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// mustParse parses a definition document or fails the test.
func mustParse(t testing.TB, doc string) *Definition {
	t.Helper()
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func mustCompile(t testing.TB, doc string) *Graph {
	t.Helper()
	g, err := Compile(mustParse(t, doc), Options{Conditions: testConditions})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return g
}

func mustIndex(t testing.TB, g *Graph, id string) int {
	t.Helper()
	i, ok := g.Index(id)
	if !ok {
		t.Fatalf("node %q not in graph", id)
	}
	return i
}

func TestParse_PredecessorExportCompilesWithAliasesAndEditorFields(t *testing.T) {
	b, err := os.ReadFile("testdata/predecessor_export.json")
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, string(b))
	if d.ID != "wf-123" || d.Version != 3 || d.Variables["tier"] != "gold" || d.Metadata["exported_by"] != "editor v2" {
		t.Errorf("top-level fields lost: %+v", d)
	}
	g, err := Compile(d, Options{Conditions: testConditions})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}

	wantKinds := map[string]Kind{"start-1": KindStart, "mem": KindMemory, "model-1": KindLLM, "tools-1": KindTools, "end-1": KindEnd}
	for id, want := range wantKinds {
		if got := g.Nodes[mustIndex(t, g, id)].Kind; got != want {
			t.Errorf("node %s: kind %q, want %q", id, got, want)
		}
	}
	if g.Entry != mustIndex(t, g, "start-1") {
		t.Errorf("entry %d, want start-1", g.Entry)
	}

	// data.config with a predecessor alias.
	mem := g.Nodes[mustIndex(t, g, "mem")].Config.(*MemoryConfig)
	if mem.Window != 12 || mem.IncludeSummary {
		t.Errorf("memory config %+v, want window 12 without summary", mem)
	}
	// Top-level config with aliases.
	llm := g.Nodes[mustIndex(t, g, "model-1")].Config.(*LLMConfig)
	if llm.Provider != "openai" || llm.Model != "gpt-4o-mini" || llm.SystemPrompt != "Be brief." || llm.Temperature == nil || *llm.Temperature != 0.3 {
		t.Errorf("llm config %+v", llm)
	}
	tools := g.Nodes[mustIndex(t, g, "tools-1")].Config.(*ToolsConfig)
	if tools.MaxToolCalls != 4 || !reflect.DeepEqual(tools.AllowedTools, []string{"calculator"}) || tools.TimeoutMS != DefaultToolTimeoutMS {
		t.Errorf("tools config %+v", tools)
	}

	// Edge conditions from data.condition and from the top-level condition.
	conds := map[string]string{}
	for _, v := range g.Nodes {
		for _, a := range v.Out {
			if a.Cond != nil {
				conds[a.ID] = a.Cond.Expr
			}
		}
	}
	if want := map[string]string{"e3": "has_tool_calls", "e5": "!has_tool_calls"}; !reflect.DeepEqual(conds, want) {
		t.Errorf("edge conditions %v, want %v", conds, want)
	}
	// END target.
	end := g.Nodes[mustIndex(t, g, "end-1")]
	if len(end.Out) != 1 || end.Out[0].Target != -1 {
		t.Errorf("end-1 arcs %+v, want one arc to END", end.Out)
	}
}

func TestParse_RoundTripKeepsEditorData(t *testing.T) {
	b, err := os.ReadFile("testdata/predecessor_export.json")
	if err != nil {
		t.Fatal(err)
	}
	d1 := mustParse(t, string(b))
	b1, err := json.Marshal(d1)
	if err != nil {
		t.Fatal(err)
	}
	d2 := mustParse(t, string(b1))
	b2, err := json.Marshal(d2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("second round trip differs:\n%s\n%s", b1, b2)
	}
	// What the editor needs to reopen the export survives.
	if d2.Nodes[1].Type != "custom" || d2.Nodes[1].Data.NodeType != "memory" || d2.Nodes[1].Position == nil || d2.Nodes[1].Position.X != 200 {
		t.Errorf("node 1 after round trip: %+v", d2.Nodes[1])
	}
	if len(d2.Nodes[2].Config) == 0 || len(d2.Nodes[2].Data.Config) != 0 {
		t.Errorf("top-level config moved: config=%s data.config=%s", d2.Nodes[2].Config, d2.Nodes[2].Data.Config)
	}
	if d2.Edges[2].Data == nil || d2.Edges[2].Data.Condition != "has_tool_calls" || d2.Edges[2].Data.Label != "tools?" {
		t.Errorf("edge e3 data after round trip: %+v", d2.Edges[2].Data)
	}
	if d2.Edges[4].Condition != "no_tool_calls" {
		t.Errorf("edge e5 top-level condition after round trip: %q", d2.Edges[4].Condition)
	}
	p1, p2 := Validate(d1, Options{Conditions: testConditions}), Validate(d2, Options{Conditions: testConditions})
	if p1 != nil || p2 != nil {
		t.Errorf("problems after round trip: %v / %v", p1, p2)
	}
}

func TestParse_AcceptsEndSpellings(t *testing.T) {
	for _, target := range []string{"END", "__end__"} {
		t.Run(target, func(t *testing.T) {
			g := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"}],
				"edges":[{"source":"s","target":"m"},{"source":"m","target":"`+target+`"}]}`)
			out := g.Nodes[mustIndex(t, g, "m")].Out
			if len(out) != 1 || out[0].Target != -1 {
				t.Errorf("arcs %+v, want one arc to END (-1)", out)
			}
		})
	}
}

func TestParse_DataConfigWinsAndNullDataConfigFallsBack(t *testing.T) {
	tests := []struct {
		name       string
		node       string
		wantWindow int
	}{
		{"data.config wins over config", `{"id":"m","type":"memory","config":{"window":1},"data":{"config":{"window":2}}}`, 2},
		{"null data.config uses config", `{"id":"m","type":"memory","config":{"window":3},"data":{"config":null}}`, 3},
		{"only config", `{"id":"m","type":"memory","config":{"window":4}}`, 4},
		{"neither uses defaults", `{"id":"m","type":"memory"}`, DefaultMemoryWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},`+tt.node+`],"edges":[{"source":"s","target":"m"}]}`)
			if got := g.Nodes[mustIndex(t, g, "m")].Config.(*MemoryConfig).Window; got != tt.wantWindow {
				t.Errorf("window %d, want %d", got, tt.wantWindow)
			}
		})
	}
}

func TestParse_MalformedJSONIsValidationError(t *testing.T) {
	tests := []struct {
		name        string
		doc         string
		wantPointer string
		wantInMsg   []string
	}{
		{"trailing comma", `{"nodes":[{"id":"a",}]}`, "", []string{"at byte 21"}},
		{"truncated", `{"nodes":[`, "", []string{"malformed JSON"}},
		{"not JSON", `nodes: []`, "", []string{"at byte 2"}},
		{"id is a number", `{"nodes":[{"id":5}]}`, "/nodes/id", []string{`"nodes.id"`, "string", "number"}},
		{"nodes is an object", `{"nodes":{"a":1}}`, "/nodes", []string{`"nodes"`, "object"}},
		{"edge condition is a bool", `{"nodes":[],"edges":[{"source":"a","target":"b","condition":true}]}`, "/edges/condition", []string{`"edges.condition"`, "bool"}},
		{"position x is a string", `{"nodes":[{"id":"a","position":{"x":"1","y":0}}]}`, "/nodes/position/x", []string{`"nodes.position.x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.doc))
			if d != nil {
				t.Errorf("Parse returned a definition for malformed input")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T), want *ValidationError", err, err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("problems %v, want exactly one", ve.Problems)
			}
			p := ve.Problems[0]
			if p.Code != CodeMalformedJSON {
				t.Errorf("code %q, want %q", p.Code, CodeMalformedJSON)
			}
			if p.Pointer != tt.wantPointer {
				t.Errorf("pointer %q, want %q", p.Pointer, tt.wantPointer)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(p.Message, s) {
					t.Errorf("message %q does not contain %q", p.Message, s)
				}
			}
			if !strings.Contains(err.Error(), CodeMalformedJSON) {
				t.Errorf("Error() %q does not name the code", err.Error())
			}
		})
	}
}

func TestValidationError_ErrorCountsTheRest(t *testing.T) {
	tests := []struct {
		name string
		err  *ValidationError
		want string
	}{
		{"none", &ValidationError{}, "invalid workflow"},
		{"one", &ValidationError{Problems: []Problem{{Code: "c", Pointer: "/p", Message: "m"}}}, "invalid workflow: c at /p: m"},
		{"three", &ValidationError{Problems: []Problem{{Code: "c", Pointer: "/p", Message: "m"}, {}, {}}}, "invalid workflow: c at /p: m (and 2 more)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
