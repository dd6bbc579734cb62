package resources_test

import (
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/resources"
	"github.com/chatterhq/chatter/internal/workflow"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

func graph(t *testing.T, js string) *workflow.Definition {
	t.Helper()
	d, err := workflow.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAnalyze_GraphMeasures(t *testing.T) {
	cases := []struct {
		name        string
		js          string
		complexity  int
		depth       int
		branching   int
		bottlenecks []string
		cycles      []resources.Cycle
		kinds       map[string]int
	}{
		{"chain", chainJSON, 1, 2, 1, []string{"llm"}, []resources.Cycle{}, map[string]int{"start": 1, "llm": 1, "end": 1}},
		{"chain to END", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"model"}],
		  "edges":[{"source":"s","target":"m"},{"source":"m","target":"END"}]}`,
			1, 1, 1, []string{"m"}, []resources.Cycle{}, map[string]int{"start": 1, "llm": 1}},
		{"diamond joins at j", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"memory"},{"id":"b","type":"retrieval"},
		  {"id":"j","type":"llm"},{"id":"e","type":"end"}],
		  "edges":[{"source":"s","target":"a"},{"source":"s","target":"b"},{"source":"a","target":"j"},{"source":"b","target":"j"},
		  {"source":"j","target":"e"}]}`,
			2, 3, 2, []string{"j"}, []resources.Cycle{}, map[string]int{"start": 1, "memory": 1, "retrieval": 1, "llm": 1, "end": 1}},
		{"llm tools cycle", `{"nodes":[{"id":"s","type":"start"},{"id":"l","type":"llm"},{"id":"t","type":"execute_tools"},{"id":"e","type":"end"}],
		  "edges":[{"source":"s","target":"l"},{"source":"l","target":"t","condition":"has_tool_calls"},{"source":"t","target":"l"},
		  {"source":"l","target":"e"}]}`,
			2, 2, 2, []string{"l"}, []resources.Cycle{{Nodes: []string{"l", "t"}, BoundedBy: "t", Bound: "max_tool_calls"}},
			map[string]int{"start": 1, "llm": 1, "tools": 1, "end": 1}},
		{"loop", `{"nodes":[{"id":"s","type":"start"},{"id":"loop","type":"loop"},{"id":"v","type":"variable"}],
		  "edges":[{"source":"s","target":"loop"},{"source":"loop","target":"v"},{"source":"v","target":"loop"},{"source":"loop","target":"END"}]}`,
			2, 2, 2, []string{"loop"}, []resources.Cycle{{Nodes: []string{"loop", "v"}, BoundedBy: "loop", Bound: "max_iterations"}},
			map[string]int{"start": 1, "loop": 1, "variable": 1}},
		{"unbounded and dangling", `{"nodes":[{"id":"a","type":"start"},{"id":"b","type":"variable"},{"id":"c","type":"weird"}],
		  "edges":[{"source":"a","target":"b"},{"source":"b","target":"c"},{"source":"c","target":"b"},{"source":"c","target":"ghost"}]}`,
			2, 2, 1, []string{}, []resources.Cycle{{Nodes: []string{"b", "c"}}}, map[string]int{"start": 1, "variable": 1, "weird": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := resources.Analyze(graph(t, c.js), cond.Compiler)
			if a.Complexity != c.complexity || a.Depth != c.depth || a.MaxBranching != c.branching {
				t.Errorf("complexity %d depth %d branching %d, want %d %d %d", a.Complexity, a.Depth, a.MaxBranching,
					c.complexity, c.depth, c.branching)
			}
			if !slices.Equal(a.Bottlenecks, c.bottlenecks) {
				t.Errorf("bottlenecks %v, want %v", a.Bottlenecks, c.bottlenecks)
			}
			if !slices.EqualFunc(a.Cycles, c.cycles, func(x, y resources.Cycle) bool {
				return slices.Equal(x.Nodes, y.Nodes) && x.BoundedBy == y.BoundedBy && x.Bound == y.Bound
			}) {
				t.Errorf("cycles %+v, want %+v", a.Cycles, c.cycles)
			}
			if len(a.Kinds) != len(c.kinds) {
				t.Errorf("kinds %v, want %v", a.Kinds, c.kinds)
			}
			for k, n := range c.kinds {
				if a.Kinds[k] != n {
					t.Errorf("kinds %v, want %v", a.Kinds, c.kinds)
				}
			}
		})
	}
}

func TestAnalyze_EmptyAndEntrylessGraphs(t *testing.T) {
	a := resources.Analyze(&workflow.Definition{}, cond.Compiler)
	if a.Nodes != 0 || a.Entry != "" || a.Depth != 0 || a.Complexity != 0 || a.Cycles == nil || a.Bottlenecks == nil {
		t.Errorf("empty: %+v", a)
	}
	ring := graph(t, `{"nodes":[{"id":"a","type":"llm"},{"id":"b","type":"llm"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"a"}]}`)
	if a := resources.Analyze(ring, cond.Compiler); a.Entry != "" || len(a.Cycles) != 1 || a.Cycles[0].BoundedBy != "" {
		t.Errorf("ring: %+v", a)
	}
}

// Generated template graphs are the common case: every built-in analyses to one
// component, an entry, and a bounded cycle exactly when it has tools.
func TestAnalyze_BuiltinTemplates(t *testing.T) {
	for _, tp := range workflow.Builtins() {
		a := resources.Analyze(tp.Definition(), cond.Compiler)
		if a.Entry != "start" || a.Components != 1 || a.Kinds["llm"] != 1 || !slices.Contains(a.Bottlenecks, "llm") {
			t.Errorf("%s: %+v", tp.Name, a)
		}
		if tp.Capabilities.Tools != (len(a.Cycles) == 1 && a.Cycles[0].Bound == "max_tool_calls") {
			t.Errorf("%s: tools %v, cycles %+v", tp.Name, tp.Capabilities.Tools, a.Cycles)
		}
	}
}

// BenchmarkAnalyze measures the largest graph validation allows: 100 nodes in a
// chain with an llm<->tools cycle and a fan-out, 199 edges.
func BenchmarkAnalyze(b *testing.B) {
	d := &workflow.Definition{}
	d.Nodes = append(d.Nodes, workflow.Node{ID: "n0", Type: "start"})
	for i := 1; i < 100; i++ {
		kind := "variable"
		switch i {
		case 50:
			kind = "llm"
		case 51:
			kind = "tools"
		}
		id := "n" + strconv.Itoa(i)
		d.Nodes = append(d.Nodes, workflow.Node{ID: id, Type: kind})
		d.Edges = append(d.Edges, workflow.Edge{Source: "n" + strconv.Itoa(i-1), Target: id})
		if i > 1 && i%2 == 0 {
			d.Edges = append(d.Edges, workflow.Edge{Source: "n" + strconv.Itoa(i-2), Target: id})
		}
	}
	d.Edges = append(d.Edges, workflow.Edge{Source: "n51", Target: "n50"}, workflow.Edge{Source: "n99", Target: "END"})
	b.ReportAllocs()
	for b.Loop() {
		a := resources.Analyze(d, cond.Compiler)
		if a.Nodes != 100 || len(a.Cycles) != 1 {
			b.Fatalf("%+v", a)
		}
	}
}

// Analytics and validation agree on cycles: they are one analysis (workflow.Cycles).
func TestAnalyze_CyclesAreValidationsAnalysis(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []resources.Cycle
	}{
		{"llm<->tools over plain edges is unbounded", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"t"},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`,
			[]resources.Cycle{{Nodes: []string{"m", "t"}}}},
		{"llm<->tools routed by has_tool_calls is bounded by the tools node", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","condition":"has_tool_calls"},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`,
			[]resources.Cycle{{Nodes: []string{"m", "t"}, BoundedBy: "t", Bound: "max_tool_calls"}}},
		{"a cycle nested in a loop's body", `{"nodes":[{"id":"s","type":"start"},{"id":"L","type":"loop","data":{"config":{"max_iterations":3}}},{"id":"a","type":"llm"},{"id":"b","type":"memory"}],
			"edges":[{"source":"s","target":"L"},{"source":"L","target":"a"},{"source":"a","target":"b"},{"source":"b","target":"a"},{"source":"b","target":"L"},{"source":"L","target":"END"}]}`,
			[]resources.Cycle{{Nodes: []string{"L", "a", "b"}, BoundedBy: "L", Bound: "max_iterations"}, {Nodes: []string{"a", "b"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := graph(t, c.doc)
			got := resources.Analyze(d, cond.Compiler).Cycles
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("cycles %+v, want %+v", got, c.want)
			}
			unbounded := slices.ContainsFunc(got, func(x resources.Cycle) bool { return x.BoundedBy == "" })
			vals := workflow.Validate(d, workflow.Options{Conditions: cond.Compiler})
			if slices.ContainsFunc(vals, func(p workflow.Problem) bool { return p.Code == workflow.CodeUnboundedCycle }) != unbounded {
				t.Errorf("validation %+v disagrees with analytics %+v", vals, got)
			}
		})
	}
}
