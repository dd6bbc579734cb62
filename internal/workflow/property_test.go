package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// checkProblems asserts the invariants every validation problem keeps.
func checkProblems(t interface{ Errorf(string, ...any) }, ps []Problem) {
	for _, p := range ps {
		if p.Code == "" || !strings.HasPrefix(p.Pointer, "/") || p.Message == "" {
			t.Errorf("ill-formed problem %+v", p)
		}
	}
}

// checkGraph asserts what the executor relies on in a compiled graph.
func checkGraph(t interface{ Errorf(string, ...any) }, g *Graph) {
	n := len(g.Nodes)
	if g.Entry < 0 || g.Entry >= n {
		t.Errorf("entry %d out of range [0,%d)", g.Entry, n)
		return
	}
	// Error handlers are entered without an edge, so they are roots like the entry.
	roots := []int{g.Entry}
	for v := range g.Nodes {
		if g.Nodes[v].Kind == KindErrorHandler {
			roots = append(roots, v)
		}
	}
	for v := range g.Nodes {
		// DFS tree arcs are never back arcs, so every node is forward-reachable
		// from a root.
		reached := false
		for _, r := range roots {
			reached = reached || r == v || g.CanReach(r, v)
		}
		if !reached {
			t.Errorf("node %q not reachable from entry %q or an error handler", g.Nodes[v].ID, g.Nodes[g.Entry].ID)
		}
		out, _ := g.Next(context.Background(), nil, v, &Env{}) // a condition may fail on a zero Env; it must not panic
		for _, w := range out {
			if w < -1 || w >= n {
				t.Errorf("Next(%q) returned vertex %d out of range", g.Nodes[v].ID, w)
			}
		}
	}
}

var (
	propKinds = []string{"start", "end", "llm", "model", "tools", "execute_tools", "memory", "retrieval",
		"conditional", "loop", "variable", "error_handler", "errorHandler", "delay"}
	propConditions = []string{"", "", "", "has_tool_calls", "no_tool_calls", "tool_calls < 3", "tool_calls >= variable max_tool_calls",
		"variable x equals 1", "variable x exists", "variable n > 1", "message contains hi", "has_errors", "no_errors",
		"loop_n1_continue", "has_tool_calls AND tool_calls < 2", "has_errors OR no_tool_calls", "len(errors) == 0", "true", "default"}
	propHandles = []string{"", "", "true", "false"}
)

func drawDefinition(t *rapid.T) *Definition {
	n := rapid.IntRange(1, 8).Draw(t, "nodes")
	d := &Definition{}
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("n%d", i)
		kind := rapid.SampledFrom(propKinds).Draw(t, "kind")
		var cfg string
		switch kind {
		case "variable":
			cfg = `{"name":"x","operation":"increment"}`
		case "conditional", "loop":
			if c := rapid.SampledFrom(propConditions).Draw(t, "node_condition"); c != "" && c != "default" {
				b, _ := json.Marshal(map[string]string{"condition": c})
				cfg = string(b)
			}
		}
		node := Node{ID: ids[i], Type: kind}
		if cfg != "" {
			node.Data.Config = json.RawMessage(cfg)
		}
		d.Nodes = append(d.Nodes, node)
	}
	targets := append(append([]string{}, ids...), EndID, "__end__")
	addEdge := func(src, tgt string) {
		e := Edge{Source: src, Target: tgt, SourceHandle: rapid.SampledFrom(propHandles).Draw(t, "handle")}
		if c := rapid.SampledFrom(propConditions).Draw(t, "condition"); c != "" {
			if rapid.Bool().Draw(t, "in_data") {
				e.Data = &EdgeData{Condition: c}
			} else {
				e.Condition = c
			}
		}
		d.Edges = append(d.Edges, e)
	}
	if rapid.Bool().Draw(t, "backbone") { // a chain makes valid graphs common
		for i := range n {
			addEdge(ids[i], targets[i+1])
		}
	}
	for range rapid.IntRange(0, 10).Draw(t, "extra_edges") {
		addEdge(rapid.SampledFrom(ids).Draw(t, "source"), rapid.SampledFrom(targets).Draw(t, "target"))
	}
	return d
}

func TestProperty_RandomDefinitionsValidateAndCompileConsistently(t *testing.T) {
	compiled := 0
	rapid.Check(t, func(t *rapid.T) {
		d := drawDefinition(t)
		ps := Validate(d, Options{Conditions: testConditions})
		checkProblems(t, ps)
		g, err := Compile(d, Options{Conditions: testConditions})
		if (err == nil) != (len(ps) == 0) {
			t.Fatalf("Compile error %v but Validate found %d problems", err, len(ps))
		}
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || !reflect.DeepEqual(ve.Problems, ps) {
				t.Fatalf("Compile error %v does not carry Validate's problems %+v", err, ps)
			}
			return
		}
		compiled++
		checkGraph(t, g)
	})
	if compiled == 0 {
		t.Errorf("no random definition compiled; the generator no longer exercises compiled graphs")
	}
}

// FuzzParseValidate: any bytes either fail to parse with malformed_json, or validate
// into well-formed problems, or compile into a graph that routes without panicking.
func FuzzParseValidate(f *testing.F) {
	for _, tpl := range Builtins() {
		b, err := json.Marshal(tpl.Definition())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if b, err := os.ReadFile("testdata/predecessor_export.json"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		``, `null`, `[]`, `{"nodes":[{"id":"a",}]}`, `{"nodes":{"a":1}}`,
		`{"nodes":[{"id":"s","type":"start"},{"id":"x","type":"banana"}],"edges":[{"source":"s","target":"ghost","condition":"foo bar"}]}`,
		`{"nodes":[{"id":"s","type":"start"},{"id":"L","type":"loop","config":{"condition":"loop_L_continue"}},{"id":"a","type":"llm"}],"edges":[{"source":"s","target":"L"},{"source":"L","target":"a"},{"source":"a","target":"L"}]}`,
		`{"nodes":[{"id":"C","type":"conditional","data":{"config":{"condition":"variable n > 1 AND message contains hi"}}},{"id":"a","type":"llm"}],"edges":[{"source":"C","target":"a","sourceHandle":"true"},{"source":"C","target":"__end__","sourceHandle":"false"}]}`,
		`{"nodes":[{"id":"a","type":"llm"},{"id":"b","type":"llm"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"a"}]}`,
	} {
		f.Add([]byte(s))
	}
	opts := Options{Conditions: testConditions, ToolExists: func(name string) bool { return name != "ghost" }}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Code != CodeMalformedJSON || ve.Problems[0].Message == "" {
				t.Fatalf("Parse error %v, want one malformed_json problem", err)
			}
			// A syntax error concerns the whole document: the empty pointer.
			if p := ve.Problems[0].Pointer; p != "" && !strings.HasPrefix(p, "/") {
				t.Fatalf("malformed_json pointer %q", p)
			}
			return
		}
		ps := Validate(d, opts)
		checkProblems(t, ps)
		g, err := Compile(d, opts)
		if len(ps) > 0 {
			if g != nil || err == nil {
				t.Fatalf("Compile succeeded although Validate found %+v", ps)
			}
			return
		}
		if err != nil {
			t.Fatalf("Validate found nothing but Compile failed: %v", err)
		}
		checkGraph(t, g)
	})
}

// badCycle is an oracle for the cycle analysis, by another algorithm: it enumerates
// every simple cycle of g over the arcs a run can go round by (cycleSucc) and
// reports whether one passes no loop vertex and is not bounded by max_tool_calls
// (no arc taken only while tool calls are pending, or no vertex that settles them).
func badCycle(g *Graph) bool {
	n := len(g.Nodes)
	on := make([]bool, n)
	var path []int
	var guard []bool // guard[i]: the arc into path[i+1] (or back to the start) is pendingOnly
	found := false
	check := func() bool {
		loop, settled, guarded := false, false, false
		for i, v := range path {
			x := &g.Nodes[v]
			loop = loop || x.Kind == KindLoop
			settled = settled || x.Kind == KindLLM || x.Kind == KindTools && !x.Disabled
			guarded = guarded || guard[i]
		}
		return !loop && !(guarded && settled)
	}
	var walk func(start, v int)
	walk = func(start, v int) {
		g.cycleSucc(v, func(w int, a *Arc) bool {
			switch {
			case found:
				return false
			case w == start:
				guard = append(guard, pendingOnly(&g.Nodes[v], a))
				found = check()
				guard = guard[:len(guard)-1]
			case w > start && !on[w]:
				on[w] = true
				path, guard = append(path, w), append(guard, pendingOnly(&g.Nodes[v], a))
				walk(start, w)
				path, guard = path[:len(path)-1], guard[:len(guard)-1]
				on[w] = false
			}
			return !found
		})
	}
	for s := 0; s < n && !found; s++ {
		on[s], path = true, []int{s}
		walk(s, s)
		on[s] = false
	}
	return found
}

// The one cycle analysis (per strongly connected component, bounded vertices
// removed and the rest analysed again, so cycles nested in loops are found) agrees
// with enumerating every simple cycle.
func TestProperty_CycleAnalysisFindsEveryUnboundedCycleNestedOrNot(t *testing.T) {
	checked, bad := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		d := drawDefinition(t)
		g, _ := build(d, Options{Conditions: testConditions})
		if g == nil {
			return
		}
		var ps []Problem
		g.unboundedCycles(nil, &ps)
		want := badCycle(g)
		if (len(ps) > 0) != want {
			b, _ := json.Marshal(d)
			t.Fatalf("cycle analysis reports %+v; simple cycles say unbounded=%v; definition %s", ps, want, b)
		}
		checked++
		if want {
			bad++
		}
	})
	if checked == 0 || bad == 0 || bad == checked {
		t.Errorf("%d graphs checked, %d with an unbounded cycle: the generator no longer exercises both sides", checked, bad)
	}
}
