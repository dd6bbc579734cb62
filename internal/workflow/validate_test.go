package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// finding is a Problem without its message, for exact comparison.
type finding struct{ Code, NodeID, EdgeID, Pointer string }

func findings(t *testing.T, ps []Problem) []finding {
	t.Helper()
	var out []finding
	for _, p := range ps {
		if p.Message == "" {
			t.Errorf("problem %+v has no message", p)
		}
		out = append(out, finding{p.Code, p.NodeID, p.EdgeID, p.Pointer})
	}
	return out
}

// oneNode builds start -> x -> END where x has the given type and data.config.
func oneNode(typ, config string) string {
	cfg := ""
	if config != "" {
		cfg = `,"data":{"config":` + config + `}`
	}
	return `{"nodes":[{"id":"s","type":"start"},{"id":"x","type":"` + typ + `"` + cfg + `}],
		"edges":[{"id":"e0","source":"s","target":"x"},{"id":"e1","source":"x","target":"END"}]}`
}

func manyNodes(n int) string {
	var b strings.Builder
	b.WriteString(`{"nodes":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"n%d","type":"llm"}`, i)
	}
	b.WriteString(`],"edges":[]}`)
	return b.String()
}

func manyEdges(n int) string {
	var b strings.Builder
	b.WriteString(`{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],"edges":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"e%d","source":"s","target":"a"}`, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestValidate_ReportsEachCodeWithLocation(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []finding
	}{
		{"no nodes", `{"nodes":[],"edges":[]}`,
			[]finding{{CodeNoNodes, "", "", "/nodes"}}},
		{"101 nodes", manyNodes(MaxNodes + 1),
			[]finding{{CodeTooManyNodes, "", "", "/nodes"}}},
		{"201 edges", manyEdges(MaxEdges + 1),
			[]finding{{CodeTooManyEdges, "", "", "/edges"}}},
		{"missing node id", `{"nodes":[{"id":"s","type":"start"},{"id":" ","type":"llm"}],"edges":[{"source":"s","target":"END"}]}`,
			[]finding{{CodeMissingID, "", "", "/nodes/1/id"}}},
		{"reserved id END", `{"nodes":[{"id":"s","type":"start"},{"id":"END","type":"llm"}],"edges":[]}`,
			[]finding{{CodeReservedID, "END", "", "/nodes/1/id"}}},
		{"reserved id __end__", `{"nodes":[{"id":"__end__","type":"start"}],"edges":[]}`,
			[]finding{{CodeReservedID, "__end__", "", "/nodes/0/id"}}},
		{"reserved id START", `{"nodes":[{"id":"START","type":"start"}],"edges":[]}`,
			[]finding{{CodeReservedID, "START", "", "/nodes/0/id"}}},
		{"reserved id __start__", `{"nodes":[{"id":"__start__","type":"start"}],"edges":[]}`,
			[]finding{{CodeReservedID, "__start__", "", "/nodes/0/id"}}},
		{"duplicate node id", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"a","type":"tools"}],"edges":[{"source":"s","target":"a"}]}`,
			[]finding{{CodeDuplicateNodeID, "a", "", "/nodes/2/id"}}},
		{"duplicate edge id", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],"edges":[{"id":"e","source":"s","target":"a"},{"id":"e","source":"a","target":"END"}]}`,
			[]finding{{CodeDuplicateEdgeID, "", "e", "/edges/1/id"}}},
		{"unknown type", oneNode("banana", ""),
			[]finding{{CodeUnknownNodeType, "x", "", "/nodes/1/type"}}},
		{"unknown custom nodeType", `{"nodes":[{"id":"s","type":"start"},{"id":"x","type":"custom","data":{"nodeType":"banana"}}],"edges":[{"source":"s","target":"x"}]}`,
			[]finding{{CodeUnknownNodeType, "x", "", "/nodes/1/data/nodeType"}}},
		{"empty type", `{"nodes":[{"id":"s","type":"start"},{"id":"x"}],"edges":[{"source":"s","target":"x"}]}`,
			[]finding{{CodeUnknownNodeType, "x", "", "/nodes/1/type"}}},
		{"dangling source", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],"edges":[{"id":"e0","source":"s","target":"a"},{"id":"bad","source":"ghost","target":"a"}]}`,
			[]finding{{CodeDanglingEdge, "", "bad", "/edges/1/source"}}},
		{"dangling target without edge id", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],"edges":[{"source":"s","target":"a"},{"source":"a","target":"ghost"}]}`,
			[]finding{{CodeDanglingEdge, "", "a->ghost", "/edges/1/target"}}},
		{"dangling both ends", `{"nodes":[{"id":"s","type":"start"}],"edges":[{"id":"e","source":"x","target":"y"}]}`,
			[]finding{{CodeDanglingEdge, "", "e", "/edges/0/source"}, {CodeDanglingEdge, "", "e", "/edges/0/target"}}},
		{"no entry point", `{"nodes":[{"id":"a","type":"llm"},{"id":"b","type":"llm"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"a"}]}`,
			[]finding{{CodeNoEntryPoint, "", "", "/nodes"}}},
		{"two start nodes", `{"nodes":[{"id":"s1","type":"start"},{"id":"s2","type":"start"},{"id":"a","type":"llm"}],"edges":[{"source":"s1","target":"a"},{"source":"s2","target":"a"}]}`,
			[]finding{{CodeMultipleEntries, "s2", "", "/nodes/1"}}},
		{"two roots without start", `{"nodes":[{"id":"a","type":"llm"},{"id":"b","type":"llm"},{"id":"c","type":"llm"}],"edges":[{"source":"a","target":"c"},{"source":"b","target":"c"}]}`,
			[]finding{{CodeMultipleEntries, "b", "", "/nodes/1"}}},
		{"unreachable node", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"orphan","type":"llm"}],"edges":[{"source":"s","target":"a"},{"source":"orphan","target":"a"}]}`,
			[]finding{{CodeUnreachableNode, "orphan", "", "/nodes/2"}}},
		{"end unreachable", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],"edges":[
			{"source":"s","target":"m"},{"id":"c","source":"m","target":"t","condition":"has_tool_calls"},{"id":"p","source":"m","target":"t"},{"source":"t","target":"m"}]}`,
			[]finding{{CodeEndUnreachable, "s", "", "/edges"}, {CodeUnboundedCycle, "m", "", "/nodes/1"}}},
		{"plain two-node cycle", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"b","type":"variable","data":{"config":{"name":"v"}}}],"edges":[
			{"source":"s","target":"a"},{"source":"a","target":"b"},{"source":"b","target":"a"},{"source":"b","target":"END"}]}`,
			[]finding{{CodeUnboundedCycle, "a", "", "/nodes/1"}}},
		{"self loop", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],"edges":[{"source":"s","target":"a"},{"source":"a","target":"a"},{"source":"a","target":"END"}]}`,
			[]finding{{CodeUnboundedCycle, "a", "", "/nodes/1"}}},
		{"llm<->tools with plain edges only", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],"edges":[
			{"source":"s","target":"m"},{"source":"m","target":"t"},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`,
			[]finding{{CodeUnboundedCycle, "m", "", "/nodes/1"}}},
		{"bad edge condition in data", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],"edges":[{"id":"e","source":"s","target":"a","data":{"condition":"foo bar"}}]}`,
			[]finding{{CodeInvalidCondition, "", "e", "/edges/0/data/condition"}}},
		{"bad top-level edge condition", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],"edges":[{"id":"e","source":"s","target":"a","condition":"tool_calls >"}]}`,
			[]finding{{CodeInvalidCondition, "", "e", "/edges/0/condition"}}},
		{"bad conditional node condition", oneNode("conditional", `{"condition":"unknown_ident == 1"}`),
			[]finding{{CodeInvalidCondition, "x", "", "/nodes/1/data/config/condition"}}},
		{"bad loop node condition", oneNode("loop", `{"condition":"1 + 2"}`),
			[]finding{{CodeInvalidCondition, "x", "", "/nodes/1/data/config/condition"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.doc)
			got := findings(t, Validate(d, Options{Conditions: testConditions}))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n got %+v\nwant %+v", got, tt.want)
			}
			g, err := Compile(d, Options{Conditions: testConditions})
			var ve *ValidationError
			if g != nil || !errors.As(err, &ve) || len(ve.Problems) != len(tt.want) {
				t.Errorf("Compile = %v, %v; want nil and a *ValidationError with %d problems", g, err, len(tt.want))
			}
		})
	}
}

func TestValidate_InvalidConfigPerKind(t *testing.T) {
	long := `"` + strings.Repeat("x", 100001) + `"`
	tests := []struct {
		name, typ, config string
		wantPointers      []string
	}{
		{"config not an object", "llm", `[1]`, []string{""}},
		{"unknown field", "llm", `{"temprature":1}`, []string{"/temprature"}},
		{"unknown field on conditional", "conditional", `{"when":"x"}`, []string{"/when"}},
		{"wrong type", "memory", `{"window":"ten"}`, []string{"/window"}},
		{"wrong type through alias points at alias", "memory", `{"memory_window":"ten"}`, []string{"/memory_window"}},
		{"out of range through alias points at alias", "memory", `{"memory_window":500}`, []string{"/memory_window"}},
		{"llm temperature", "llm", `{"temperature":2.5}`, []string{"/temperature"}},
		{"llm negative temperature", "llm", `{"temperature":-0.1}`, []string{"/temperature"}},
		{"llm max_tokens", "llm", `{"max_tokens":-1}`, []string{"/max_tokens"}},
		{"llm system_prompt", "llm", `{"system_prompt":` + long + `}`, []string{"/system_prompt"}},
		{"tools max_tool_calls and timeout", "tools", `{"max_tool_calls":0,"timeout_ms":300001}`, []string{"/max_tool_calls", "/timeout_ms"}},
		{"memory window", "memory", `{"window":201}`, []string{"/window"}},
		{"retrieval top_k and min_score", "retrieval", `{"top_k":0,"min_score":1.5}`, []string{"/top_k", "/min_score"}},
		{"loop max_iterations", "loop", `{"max_iterations":101}`, []string{"/max_iterations"}},
		{"variable operation and name", "variable", `{"operation":"frobnicate"}`, []string{"/operation", "/name"}},
		{"error_handler fields", "error_handler", `{"retry_count":11,"fallback_action":"explode","retry_delay_ms":-1}`, []string{"/retry_count", "/fallback_action", "/retry_delay_ms"}},
		{"delay fields", "delay", `{"type":"weird","duration_ms":-1,"max_duration_ms":300001,"factor":0.5}`, []string{"/type", "/duration_ms", "/max_duration_ms", "/factor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []finding
			for _, p := range tt.wantPointers {
				want = append(want, finding{CodeInvalidConfig, "x", "", "/nodes/1/data/config" + p})
			}
			got := findings(t, Validate(mustParse(t, oneNode(tt.typ, tt.config)), Options{Conditions: testConditions}))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("problems\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestValidate_TopLevelConfigProblemPointsAtConfig(t *testing.T) {
	doc := `{"nodes":[{"id":"s","type":"start"},{"id":"x","type":"llm","config":{"temperature":9}}],"edges":[{"source":"s","target":"x"}]}`
	got := findings(t, Validate(mustParse(t, doc), Options{Conditions: testConditions}))
	want := []finding{{CodeInvalidConfig, "x", "", "/nodes/1/config/temperature"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %+v, want %+v", got, want)
	}
}

func TestValidate_UnknownToolsOnlyWithToolExists(t *testing.T) {
	doc := `{"nodes":[{"id":"s","type":"start"},
		{"id":"m","type":"llm","data":{"config":{"tools":["calculator","nope"]}}},
		{"id":"t","type":"tools","data":{"config":{"allowed_tools":["missing","calculator"]}}}],
		"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","condition":"has_tool_calls"},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`
	registered := func(name string) bool { return name == "calculator" }
	tests := []struct {
		name string
		opts Options
		want []finding
	}{
		{"no registry skips the check", Options{Conditions: testConditions}, nil},
		{"registry reports each unknown name", Options{Conditions: testConditions, ToolExists: registered}, []finding{
			{CodeUnknownTool, "m", "", "/nodes/1/data/config/tools/1"},
			{CodeUnknownTool, "t", "", "/nodes/2/data/config/allowed_tools/0"},
		}},
		{"everything registered", Options{Conditions: testConditions, ToolExists: func(string) bool { return true }}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findings(t, Validate(mustParse(t, doc), tt.opts))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidate_ReportsAllProblemsAtOnce(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []finding
	}{
		{"unknown type, dangling edge and bad condition", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"banana"},{"id":"b","type":"llm"}],
			"edges":[{"id":"e0","source":"s","target":"b","condition":"foo bar"},{"id":"e1","source":"b","target":"nowhere"}]}`,
			[]finding{
				{CodeUnknownNodeType, "a", "", "/nodes/1/type"},
				{CodeInvalidCondition, "", "e0", "/edges/0/condition"},
				{CodeDanglingEdge, "", "e1", "/edges/1/target"},
				{CodeUnreachableNode, "a", "", "/nodes/1"}, // the structure is checked too
			}},
		{"ids, configs and tools together", `{"nodes":[{"id":"s","type":"start"},{"id":"s","type":"memory","data":{"config":{"window":-1}}},{"id":"","type":"llm","config":{"tools":["ghost"]}}],
			"edges":[{"id":"e","source":"s","target":"END"},{"id":"e","source":"s","target":"END"}]}`,
			[]finding{
				{CodeDuplicateNodeID, "s", "", "/nodes/1/id"},
				{CodeInvalidConfig, "s", "", "/nodes/1/data/config/window"},
				{CodeMissingID, "", "", "/nodes/2/id"},
				{CodeUnknownTool, "", "", "/nodes/2/config/tools/0"},
				{CodeDuplicateEdgeID, "", "e", "/edges/1/id"},
			}},
		{"structure: two unreachable nodes and an unbounded cycle", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"b","type":"llm"},{"id":"u1","type":"llm"},{"id":"u2","type":"memory"}],
			"edges":[{"source":"s","target":"a"},{"source":"a","target":"b"},{"source":"b","target":"a"},{"source":"b","target":"END"},{"source":"u1","target":"u2"}]}`,
			[]finding{
				{CodeUnreachableNode, "u1", "", "/nodes/3"},
				{CodeUnreachableNode, "u2", "", "/nodes/4"},
				{CodeUnboundedCycle, "a", "", "/nodes/1"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findings(t, Validate(mustParse(t, tt.doc), Options{Conditions: testConditions, ToolExists: func(string) bool { return false }}))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestValidate_AcceptsBoundedCycles(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"loop node cycle", `{"nodes":[{"id":"s","type":"start"},{"id":"L","type":"loop","data":{"config":{"max_iterations":2}}},{"id":"a","type":"llm"}],
			"edges":[{"source":"s","target":"L"},{"source":"L","target":"a"},{"source":"a","target":"L"},{"source":"L","target":"END"}]}`},
		{"llm<->tools routed by has_tool_calls", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","data":{"condition":"has_tool_calls"}},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`},
		{"default condition is a plain edge", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],
			"edges":[{"source":"s","target":"a","condition":"default"},{"source":"a","target":"END","data":{"condition":"Otherwise"}}]}`},
		{"no edges: a lone start ends", `{"nodes":[{"id":"s","type":"start"}],"edges":[]}`},
		{"llm<->tools nested in a loop's body", `{"nodes":[{"id":"s","type":"start"},{"id":"L","type":"loop","data":{"config":{"max_iterations":2}}},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"L"},{"source":"L","target":"m"},{"source":"m","target":"t","condition":"has_tool_calls"},{"source":"t","target":"m"},{"source":"m","target":"L","condition":"no_tool_calls"},{"source":"L","target":"END"}]}`},
		{"a conditional node routed by its edges' conditions", `{"nodes":[{"id":"s","type":"start"},{"id":"c","type":"conditional"},{"id":"a","type":"llm"}],
			"edges":[{"source":"s","target":"c"},{"source":"c","target":"a","condition":"message contains \"x\""},{"source":"c","target":"END","condition":"default"},{"source":"a","target":"END"}]}`},
		{"error handlers are entered without an edge", `{"nodes":[{"id":"a","type":"llm"},{"id":"eh","type":"errorHandler"},{"id":"b","type":"llm"}],
			"edges":[{"source":"a","target":"END"},{"source":"eh","target":"b"}]}`},
		{"llm<->tools guarded by a conjunction with has_tool_calls", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","condition":"tool_calls < 3 AND (has_tool_calls)"},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`},
		{"llm<->tools through a conditional node's false branch of no_tool_calls", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"c","type":"conditional","config":{"condition":"no_tool_calls"}},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"c"},{"source":"c","target":"END","sourceHandle":"true"},{"source":"c","target":"t","sourceHandle":"false"},{"source":"t","target":"m"}]}`},
		{"a cycle of a disabled tools node the llm settles", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools","config":{"enabled":false}}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","condition":"has_tool_calls"},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`},
		// a's failure does not go to eh, whose branch leads back to a (Graph.Handles).
		{"a handler that continues back into a node", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"eh","type":"error_handler","config":{"fallback_action":"continue"}}],
			"edges":[{"source":"s","target":"a"},{"source":"a","target":"END"},{"source":"eh","target":"a"}]}`},
		{"an arc into a handler closes no cycle", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"eh","type":"error_handler"}],
			"edges":[{"source":"s","target":"a"},{"source":"a","target":"END"},{"source":"a","target":"eh"},{"source":"eh","target":"a"}]}`},
		{"a handler that stops may have an edge back", `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"eh","type":"error_handler","config":{"fallback_action":"stop","retry_count":2}}],
			"edges":[{"source":"s","target":"a"},{"source":"a","target":"END"},{"source":"eh","target":"a"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ps := Validate(mustParse(t, tt.doc), Options{Conditions: testConditions}); ps != nil {
				t.Errorf("problems %+v, want none", ps)
			}
		})
	}
}

// Problems that hid each other before one pass: a cycle nested inside a bounded
// one, and a conditional node that would take every branch.
func TestValidate_NestedCyclesAndEmptyConditions(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []finding
	}{
		{"unbounded cycle inside a loop's body", `{"nodes":[{"id":"s","type":"start"},{"id":"L","type":"loop","data":{"config":{"max_iterations":3}}},{"id":"a","type":"llm"},{"id":"b","type":"memory"}],
			"edges":[{"source":"s","target":"L"},{"source":"L","target":"a"},{"source":"a","target":"b"},{"source":"b","target":"a"},{"source":"b","target":"L"},{"source":"L","target":"END"}]}`,
			[]finding{{CodeUnboundedCycle, "a", "", "/nodes/2"}}},
		{"two loops, the inner cycle unbounded", `{"nodes":[{"id":"s","type":"start"},{"id":"L1","type":"loop","data":{"config":{"max_iterations":3}}},{"id":"L2","type":"loop","data":{"config":{"max_iterations":3}}},{"id":"a","type":"llm"},{"id":"b","type":"variable","config":{"operation":"increment","variable":"n"}}],
			"edges":[{"source":"s","target":"L1"},{"source":"L1","target":"L2"},{"source":"L2","target":"a"},{"source":"a","target":"L2"},{"source":"L2","target":"b"},{"source":"b","target":"b"},{"source":"b","target":"L1"},{"source":"L1","target":"END"}]}`,
			[]finding{{CodeUnboundedCycle, "b", "", "/nodes/4"}}},
		{"llm<->tools routed by no_tool_calls never ends its tool turns", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","condition":"no_tool_calls"},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`,
			[]finding{{CodeUnboundedCycle, "m", "", "/nodes/1"}}},
		{"llm<->tools routed by a message condition", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","condition":"message contains \"x or y\""},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`,
			[]finding{{CodeUnboundedCycle, "m", "", "/nodes/1"}}},
		{"a has_tool_calls disjunction does not guard", `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"t","type":"tools"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"t","condition":"has_tool_calls OR variables.n > 1"},{"source":"t","target":"m"},{"source":"m","target":"END"}]}`,
			[]finding{{CodeUnboundedCycle, "m", "", "/nodes/1"}}},
		{"empty condition, true and false edges", `{"nodes":[{"id":"s","type":"start"},{"id":"c","type":"conditional","data":{"config":{"condition":"  "}}},{"id":"a","type":"llm"},{"id":"b","type":"llm"}],
			"edges":[{"source":"s","target":"c"},{"source":"c","target":"a","sourceHandle":"true"},{"source":"c","target":"b","sourceHandle":"false"},{"source":"a","target":"END"},{"source":"b","target":"END"}]}`,
			[]finding{{CodeInvalidCondition, "c", "", "/nodes/1/data/config/condition"}}},
		{"unknown type, dangling edge and unreachable node at once", `{"nodes":[{"id":"s","type":"start"},{"id":"x","type":"banana"},{"id":"m","type":"llm"},{"id":"lone","type":"llm"}],
			"edges":[{"source":"s","target":"m"},{"source":"m","target":"x"},{"source":"m","target":"ghost"},{"source":"x","target":"END"}]}`,
			[]finding{{CodeUnknownNodeType, "x", "", "/nodes/1/type"}, {CodeDanglingEdge, "", "m->ghost", "/edges/2/target"},
				{CodeUnreachableNode, "lone", "", "/nodes/3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []finding
			for _, p := range Validate(mustParse(t, tt.doc), Options{Conditions: testConditions}) {
				got = append(got, finding{p.Code, p.NodeID, p.EdgeID, p.Pointer})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestValidationError_MarshalsProblems(t *testing.T) {
	_, err := Compile(mustParse(t, `{"nodes":[]}`), Options{Conditions: testConditions})
	b, merr := json.Marshal(err)
	if merr != nil {
		t.Fatal(merr)
	}
	want := `{"problems":[{"code":"no_nodes","pointer":"/nodes","message":"a workflow needs at least one node"}]}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
}

// Without a condition compiler validation fails closed: each condition is an
// invalid_condition naming ErrNoConditionCompiler, never accepted unseen.
func TestValidate_WithoutAConditionCompilerRefusesEveryCondition(t *testing.T) {
	d := mustParse(t, `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"}],
	 "edges":[{"source":"s","target":"a"},{"id":"c","source":"a","target":"END","condition":"has_tool_calls"}]}`)
	ps := Validate(d, Options{})
	if len(ps) != 1 || ps[0].Code != CodeInvalidCondition || ps[0].EdgeID != "c" || ps[0].Message != ErrNoConditionCompiler.Error() {
		t.Fatalf("problems %+v, want one invalid_condition naming ErrNoConditionCompiler", ps)
	}
	if c, err := CompileCondition(nil, "has_tool_calls"); c != nil || !errors.Is(err, ErrNoConditionCompiler) {
		t.Errorf("CompileCondition(nil) = %v, %v", c, err)
	}
	if ps := Validate(mustParse(t, `{"nodes":[{"id":"s","type":"start"}],"edges":[{"source":"s","target":"END"}]}`), Options{}); ps != nil {
		t.Errorf("a definition without conditions: %+v", ps)
	}
}
