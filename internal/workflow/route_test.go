package workflow

import (
	"context"
	"reflect"
	"testing"
)

// nextIDs runs Graph.Next from node id and names the targets ("END" for -1).
func nextIDs(t *testing.T, g *Graph, id string, env Env) []string {
	t.Helper()
	out, err := g.Next(context.Background(), nil, mustIndex(t, g, id), &env)
	if err != nil {
		t.Fatalf("Next(%s): %v", id, err)
	}
	var ids []string
	for _, v := range out {
		if v == -1 {
			ids = append(ids, EndID)
			continue
		}
		ids = append(ids, g.Nodes[v].ID)
	}
	return ids
}

const routingDoc = `{"nodes":[
	{"id":"s","type":"start"},
	{"id":"fan","type":"variable","data":{"config":{"name":"v"}}},
	{"id":"a","type":"llm"},{"id":"b","type":"llm"},{"id":"c","type":"llm"},
	{"id":"pick","type":"llm"},
	{"id":"only","type":"llm"},
	{"id":"e","type":"end"}],
 "edges":[
	{"source":"s","target":"fan"},
	{"source":"fan","target":"a"},{"source":"fan","target":"b"},{"source":"fan","target":"pick"},{"source":"fan","target":"only"},
	{"id":"p1","source":"pick","target":"a","condition":"tool_calls > 1"},
	{"id":"p2","source":"pick","target":"b","data":{"condition":"tool_calls > 0"}},
	{"id":"p3","source":"pick","target":"c"},
	{"id":"p4","source":"pick","target":"e"},
	{"source":"only","target":"c","condition":"has_tool_calls"},
	{"source":"a","target":"e"},{"source":"b","target":"e"},
	{"source":"e","target":"c"}]}`

func TestNext_RoutesEdges(t *testing.T) {
	g := mustCompile(t, routingDoc)
	tests := []struct {
		name, from string
		env        Env
		want       []string
	}{
		{"plain edges fan out in order", "fan", Env{}, []string{"a", "b", "pick", "only"}},
		{"first true condition wins", "pick", Env{ToolCalls: 2}, []string{"a"}},
		{"conditions are tried in order", "pick", Env{ToolCalls: 1}, []string{"b"}},
		{"no condition true: first plain edge", "pick", Env{}, []string{"c"}},
		{"no condition true and no plain edge: END", "only", Env{}, []string{EndID}},
		{"the only condition true", "only", Env{HasToolCalls: true}, []string{"c"}},
		{"end node ends even with an outgoing edge", "e", Env{HasToolCalls: true}, []string{EndID}},
		{"no outgoing edges: END", "c", Env{}, []string{EndID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextIDs(t, g, tt.from, tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Next(%s) = %v, want %v", tt.from, got, tt.want)
			}
		})
	}
	if !g.Nodes[mustIndex(t, g, "pick")].Exclusive || g.Nodes[mustIndex(t, g, "fan")].Exclusive {
		t.Errorf("Exclusive should be set on pick (has conditions) and not on fan")
	}
}

func TestNext_ConditionalNodeHandles(t *testing.T) {
	tests := []struct {
		name  string
		edges string
		env   Env
		want  []string
	}{
		{"true handle", `{"source":"C","target":"a","sourceHandle":"true"},{"source":"C","target":"b","sourceHandle":"false"}`,
			Env{HasErrors: true}, []string{"a"}},
		{"false handle", `{"source":"C","target":"a","sourceHandle":"true"},{"source":"C","target":"b","sourceHandle":"false"}`,
			Env{}, []string{"b"}},
		{"yes/no handles, any case", `{"source":"C","target":"a","sourceHandle":"Yes"},{"source":"C","target":"b","sourceHandle":"NO"}`,
			Env{}, []string{"b"}},
		{"several arcs on the matching handle all run", `{"source":"C","target":"a","sourceHandle":"true"},{"source":"C","target":"b","sourceHandle":"true"}`,
			Env{HasErrors: true}, []string{"a", "b"}},
		{"no matching handle: unlabelled arcs route", `{"source":"C","target":"a","sourceHandle":"true"},{"source":"C","target":"b"}`,
			Env{}, []string{"b"}},
		{"no matching handle and nothing else: END", `{"source":"C","target":"a","sourceHandle":"true"},{"source":"C","target":"b","sourceHandle":"true"}`,
			Env{}, []string{EndID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"C","type":"conditional","data":{"config":{"condition":"has_errors"}}},
				{"id":"a","type":"llm"},{"id":"b","type":"llm"}],"edges":[{"source":"s","target":"C"},`+tt.edges+`]}`)
			if got := nextIDs(t, g, "C", tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Next(C) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNext_ConditionalNodeWithoutConditionUsesEdgeConditions(t *testing.T) {
	g := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"C","type":"conditional"},{"id":"a","type":"llm"},{"id":"b","type":"llm"}],
		"edges":[{"source":"s","target":"C"},{"source":"C","target":"a","condition":"message contains urgent"},{"source":"C","target":"b","condition":"else"}]}`)
	tests := []struct {
		msg  string
		want []string
	}{{"URGENT: help", []string{"a"}}, {"later", []string{"b"}}}
	for _, tt := range tests {
		if got := nextIDs(t, g, "C", Env{Message: tt.msg}); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("message %q: Next(C) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestNext_LoopBodyAndExit(t *testing.T) {
	withExit := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"L","type":"loop"},{"id":"body","type":"llm"},{"id":"after","type":"llm"}],
		"edges":[{"source":"s","target":"L"},{"source":"L","target":"body"},{"source":"body","target":"L"},{"source":"L","target":"after"}]}`)
	noExit := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"L","type":"loop"},{"id":"body","type":"llm"}],
		"edges":[{"source":"s","target":"L"},{"source":"L","target":"body"},{"source":"body","target":"L"}]}`)
	cont := func(c bool) Env {
		return Env{Loop: map[string]*LoopInfo{"L": {Iteration: 1, MaxIterations: 3, Continue: c}}}
	}
	tests := []struct {
		name string
		g    *Graph
		env  Env
		want []string
	}{
		{"continue takes the body", withExit, cont(true), []string{"body"}},
		{"done takes the exit", withExit, cont(false), []string{"after"}},
		{"no loop state means done", withExit, Env{}, []string{"after"}},
		{"done without exit arc ends", noExit, cont(false), []string{EndID}},
		{"continue without exit arc still takes the body", noExit, cont(true), []string{"body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextIDs(t, tt.g, "L", tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Next(L) = %v, want %v", got, tt.want)
			}
		})
	}
	var body []bool
	for _, a := range withExit.Nodes[mustIndex(t, withExit, "L")].Out {
		body = append(body, a.Body)
	}
	if !reflect.DeepEqual(body, []bool{true, false}) {
		t.Errorf("loop arcs Body = %v, want [true false]", body)
	}
}

func TestNext_AppendsToDstAndReturnsConditionErrors(t *testing.T) {
	g := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"m","type":"llm"},{"id":"a","type":"llm"},
		{"id":"C","type":"conditional","data":{"config":{"condition":"variable n > 1"}}}],
		"edges":[{"source":"s","target":"m"},{"source":"m","target":"a","condition":"variable n > 1"},{"source":"m","target":"C"},{"source":"C","target":"a","sourceHandle":"true"}]}`)
	dst := []int{42}
	out, err := g.Next(context.Background(), dst, mustIndex(t, g, "s"), &Env{})
	if err != nil || !reflect.DeepEqual(out, []int{42, mustIndex(t, g, "m")}) {
		t.Errorf("Next = %v, %v; want [42 m]", out, err)
	}
	for _, id := range []string{"m", "C"} {
		if _, err := g.Next(context.Background(), nil, mustIndex(t, g, id), &Env{}); err == nil {
			t.Errorf("Next(%s) with a missing variable: want the condition's error", id)
		}
	}
}

func TestGraph_CanReachFollowsForwardArcsOnly(t *testing.T) {
	diamond := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"b","type":"llm"},{"id":"d","type":"llm"}],
		"edges":[{"source":"s","target":"a"},{"source":"s","target":"b"},{"source":"a","target":"d"},{"source":"b","target":"d"},{"source":"d","target":"END"}]}`)
	loop := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"L","type":"loop"},{"id":"x","type":"llm"},{"id":"y","type":"llm"},{"id":"out","type":"llm"}],
		"edges":[{"source":"s","target":"L"},{"source":"L","target":"x"},{"source":"x","target":"y"},{"source":"y","target":"L"},{"source":"L","target":"out"}]}`)
	// Error handlers are entered without an edge; what they lead to must still be
	// forward-reachable from them so joins wait for their branches.
	handler := mustCompile(t, `{"nodes":[{"id":"s","type":"start"},{"id":"a","type":"llm"},{"id":"eh","type":"error_handler"},{"id":"x","type":"memory"},{"id":"j","type":"llm"}],
		"edges":[{"source":"s","target":"a"},{"source":"a","target":"j"},{"source":"eh","target":"x"},{"source":"x","target":"j"},{"source":"j","target":"END"}]}`)
	tests := []struct {
		name     string
		g        *Graph
		from, to string
		want     bool
	}{
		{"error handler reaches its successor", handler, "eh", "x", true},
		{"error handler reaches the join", handler, "eh", "j", true},
		{"node only an error handler reaches, reaches on", handler, "x", "j", true},
		{"entry does not reach the error handler", handler, "s", "eh", false},
		{"diamond: start reaches join", diamond, "s", "d", true},
		{"diamond: branch reaches join", diamond, "a", "d", true},
		{"diamond: branches are independent", diamond, "a", "b", false},
		{"diamond: join does not reach start", diamond, "d", "s", false},
		{"diamond: no self reach without a cycle", diamond, "a", "a", false},
		{"loop: start reaches the body", loop, "s", "y", true},
		{"loop: loop reaches its exit", loop, "L", "out", true},
		{"loop: body reaches body", loop, "x", "y", true},
		{"loop: not through the back arc", loop, "y", "L", false},
		{"loop: not back into the body", loop, "y", "x", false},
		{"loop: body does not reach the exit", loop, "x", "out", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.CanReach(mustIndex(t, tt.g, tt.from), mustIndex(t, tt.g, tt.to)); got != tt.want {
				t.Errorf("CanReach(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
	joins := map[string]bool{}
	for _, v := range diamond.Nodes {
		joins[v.ID] = v.Joins
	}
	if want := map[string]bool{"s": false, "a": false, "b": false, "d": true}; !reflect.DeepEqual(joins, want) {
		t.Errorf("Joins = %v, want %v", joins, want)
	}
}

// Found by the property test: a loop node that only an error handler leads to must
// be forward-reachable from that handler (the arc into it is a tree arc of the
// handler's search, not a back arc of a search started at the loop).
func TestCanReach_FromErrorHandlerIntoACycleItClosesWith(t *testing.T) {
	d := &Definition{
		Nodes: []Node{
			{ID: "n0", Type: "loop"},
			{ID: "n1", Type: "error_handler"},
			{ID: "n2", Type: "start"},
		},
		Edges: []Edge{
			{Source: "n0", Target: "n1"}, {Source: "n1", Target: "n2"}, {Source: "n2", Target: "END"},
			{ID: "self", Source: "n0", Target: "n0"}, {ID: "into", Source: "n1", Target: "n0"},
		},
	}
	g, err := Compile(d, Options{Conditions: testConditions})
	if err != nil {
		t.Fatal(err)
	}
	n0, _ := g.Index("n0")
	n1, _ := g.Index("n1")
	if !g.CanReach(n1, n0) {
		t.Fatal("the error handler cannot reach the loop it leads to")
	}
}

// A human node of approval input routes on the person's decision by its edge
// handles; text input (or no decision handles) routes its edges as usual.
func TestNext_HumanRoutesOnTheDecision(t *testing.T) {
	g := mustCompile(t, `{"nodes":[
	{"id":"s","type":"start"},
	{"id":"ask","type":"human","data":{"config":{"prompt":"Send it?","variable":"ok"}}},
	{"id":"yes","type":"llm"},{"id":"no","type":"llm"},
	{"id":"note","type":"human_input","data":{"config":{"input":"text"}}},
	{"id":"e","type":"end"}],
 "edges":[
	{"source":"s","target":"ask"},
	{"source":"ask","target":"yes","sourceHandle":"approve"},
	{"source":"ask","target":"no","sourceHandle":"rejected"},
	{"source":"yes","target":"note"},{"source":"no","target":"e"},{"source":"note","target":"e"}]}`)
	vars := func(v string) Env { return Env{Variables: map[string]any{"ok": v}} }
	if got := nextIDs(t, g, "ask", vars(HumanApprove)); !reflect.DeepEqual(got, []string{"yes"}) {
		t.Errorf("approve: %v", got)
	}
	if got := nextIDs(t, g, "ask", vars(HumanReject)); !reflect.DeepEqual(got, []string{"no"}) {
		t.Errorf("reject: %v", got)
	}
	if got := nextIDs(t, g, "note", Env{Variables: map[string]any{"human_input": "hello"}}); !reflect.DeepEqual(got, []string{"e"}) {
		t.Errorf("text: %v", got)
	}
}
