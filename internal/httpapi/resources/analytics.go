package resources

import (
	"net/http"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/workflow"
)

// Analytics is the static analysis of a definition's graph, computed without
// compiling it (so a stored definition that predates a validation rule can still
// be analysed). The graph's vertices are the nodes, plus one END vertex when some
// edge targets END; its arcs are the edges whose ends exist (dangling edges are
// counted in Edges only; a duplicate node id names its first node).
//
//   - Nodes, Edges: the definition's node and edge counts.
//   - Kinds: nodes per canonical kind (aliases resolved; an unknown kind counts
//     under the name written).
//   - Entry: the start node, else the first node without incoming edges (error
//     handlers excepted); empty when there is none.
//   - Complexity: cyclomatic complexity M = E - N + 2P over the vertices and arcs,
//     P being the number of weakly connected components.
//   - Depth: the number of arcs between nodes on the longest path from the entry
//     once the arcs that close a cycle (back arcs of a depth-first search from the
//     entry) are dropped; arcs to END do not count. start -> llm -> end is 2.
//   - MaxBranching: the largest number of arcs leaving one node (END included).
//   - Cycles: workflow.Cycles, the analysis validation uses: each strongly
//     connected component with a cycle (nested ones too), its nodes in definition
//     order, and the node that bounds it: a loop node (bound max_iterations) or,
//     for an llm<->tools cycle a condition routes, the tools node (bound
//     max_tool_calls). An empty bounded_by is an unbounded cycle.
//   - Bottlenecks: nodes every path from the entry to an ending passes through
//     (removing one leaves no way to end), other than the entry and end nodes —
//     the articulation points of the run, where a failure stops every run and
//     where parallel branches join. A node ends the run when it is an end node,
//     has no arcs out, has an arc to END, is a loop or conditional node, or has
//     only conditional arcs out.
//   - Paths: the distinct paths from the entry to an arc to END or a node without
//     arcs out, back arcs dropped (at most maxPaths).
//   - ConditionalEdges: arcs with a condition; DanglingEdges: edges whose source or
//     target does not exist; Unreachable: nodes no path from the entry reaches
//     (error handlers excepted); CanEnd: some path from the entry ends the run.
type Analytics struct {
	DefinitionID string         `json:"definition_id"`
	Version      int            `json:"version"`
	Nodes        int            `json:"nodes"`
	Edges        int            `json:"edges"`
	Kinds        map[string]int `json:"kinds"`
	Entry        string         `json:"entry,omitempty"`
	Complexity   int            `json:"complexity"`
	Components   int            `json:"components"`
	Depth        int            `json:"depth"`
	MaxBranching int            `json:"max_branching"`
	Cycles       []Cycle        `json:"cycles"`
	Bottlenecks  []string       `json:"bottlenecks"`

	Paths            int      `json:"paths"`
	ConditionalEdges int      `json:"conditional_edges"`
	DanglingEdges    int      `json:"dangling_edges"`
	Unreachable      []string `json:"unreachable"`
	CanEnd           bool     `json:"can_end"`
}

// maxPaths caps the path count of a graph (a 100-node graph can have more paths
// than an int holds).
const maxPaths = 1 << 30

// Cycle is one cycle of the graph: workflow's analysis, the one validation uses.
type Cycle = workflow.Cycle

type anaGraph struct {
	d     *workflow.Definition
	n     int     // real nodes
	end   int     // index of the END vertex, or -1
	out   [][]int // arcs per vertex
	cond  [][]bool
	kinds []workflow.Kind
}

// Analyze computes the analytics of d (DefinitionID and Version are left empty);
// cc compiles its conditions for the cycle analysis (workflow.Cycles).
func Analyze(d *workflow.Definition, cc workflow.ConditionCompiler) Analytics {
	g := buildAnaGraph(d)
	a := Analytics{Nodes: len(d.Nodes), Edges: len(d.Edges), Kinds: map[string]int{},
		Cycles: []Cycle{}, Bottlenecks: []string{}, Unreachable: []string{}}
	for i, nd := range d.Nodes {
		k := string(g.kinds[i])
		if k == "" {
			k = nd.KindName()
		}
		a.Kinds[k]++
	}
	arcs := 0
	for v := range g.out {
		arcs += len(g.out[v])
		if v < g.n {
			a.MaxBranching = max(a.MaxBranching, len(g.out[v]))
		}
		for _, c := range g.cond[v] {
			if c {
				a.ConditionalEdges++
			}
		}
	}
	a.DanglingEdges = len(d.Edges) - arcs
	verts := len(g.out)
	a.Components = g.components()
	a.Complexity = arcs - verts + 2*a.Components
	entry := g.entry()
	if entry >= 0 {
		a.Entry = d.Nodes[entry].ID
		a.Depth = g.depth(entry)
		for _, v := range g.bottlenecks(entry) {
			a.Bottlenecks = append(a.Bottlenecks, d.Nodes[v].ID)
		}
		a.Paths = g.paths(entry)
		a.CanEnd = g.canEnd(entry, -1)
	}
	reach := g.reachable(entry)
	for v := 0; v < g.n; v++ {
		if !reach[v] && g.kinds[v] != workflow.KindErrorHandler {
			a.Unreachable = append(a.Unreachable, d.Nodes[v].ID)
		}
	}
	a.Cycles = workflow.Cycles(d, cc)
	return a
}

func buildAnaGraph(d *workflow.Definition) *anaGraph {
	g := &anaGraph{d: d, n: len(d.Nodes), end: -1}
	index := make(map[string]int, g.n)
	g.kinds = make([]workflow.Kind, g.n)
	for i := range d.Nodes {
		if _, dup := index[d.Nodes[i].ID]; !dup {
			index[d.Nodes[i].ID] = i
		}
		if k, ok := workflow.ParseKind(d.Nodes[i].KindName()); ok {
			g.kinds[i] = k
		}
	}
	for _, e := range d.Edges {
		if workflow.IsEnd(e.Target) {
			g.end = g.n
			break
		}
	}
	verts := g.n
	if g.end >= 0 {
		verts++
	}
	g.out = make([][]int, verts)
	g.cond = make([][]bool, verts)
	for i := range d.Edges {
		e := &d.Edges[i]
		from, ok := index[e.Source]
		if !ok {
			continue
		}
		to, ok := index[e.Target]
		if workflow.IsEnd(e.Target) {
			to, ok = g.end, true
		}
		if !ok {
			continue
		}
		c, _ := e.ConditionText()
		g.out[from] = append(g.out[from], to)
		g.cond[from] = append(g.cond[from], c != "")
	}
	return g
}

func (g *anaGraph) entry() int {
	for i, k := range g.kinds {
		if k == workflow.KindStart {
			return i
		}
	}
	in := make([]int, g.n)
	for v := range g.out {
		for _, w := range g.out[v] {
			if w < g.n {
				in[w]++
			}
		}
	}
	for i := 0; i < g.n; i++ {
		if in[i] == 0 && g.kinds[i] != workflow.KindErrorHandler {
			return i
		}
	}
	return -1
}

// components counts weakly connected components with a union-find.
func (g *anaGraph) components() int {
	parent := make([]int, len(g.out))
	for i := range parent {
		parent[i] = i
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	count := len(parent)
	for v := range g.out {
		for _, w := range g.out[v] {
			if a, b := find(v), find(w); a != b {
				parent[a] = b
				count--
			}
		}
	}
	return count
}

// foldForward computes val(entry) over the graph with its back arcs dropped (arcs
// to a node on the stack of a depth-first search from entry), where val(v) is
// combine(v, the vals of v's forward arcs to nodes, its arcs to END).
func (g *anaGraph) foldForward(entry int, combine func(v int, succ []int, ends int) int) int {
	const (
		fresh = iota
		onStack
		done
	)
	state := make([]int, g.n)
	memo := make([]int, g.n)
	var visit func(v int) int
	visit = func(v int) int {
		state[v] = onStack
		var succ []int
		ends := 0
		for _, w := range g.out[v] {
			switch {
			case w >= g.n:
				ends++
			case state[w] == fresh:
				succ = append(succ, visit(w))
			case state[w] == done:
				succ = append(succ, memo[w])
			}
			// onStack: a back arc, dropped.
		}
		state[v], memo[v] = done, combine(v, succ, ends)
		return memo[v]
	}
	return visit(entry)
}

// depth is the longest path in arcs between nodes from entry, back arcs dropped.
func (g *anaGraph) depth(entry int) int {
	return g.foldForward(entry, func(_ int, succ []int, _ int) int {
		best := 0
		for _, d := range succ {
			best = max(best, 1+d)
		}
		return best
	})
}

// paths counts the distinct paths from entry to an arc to END or a node without
// arcs out (or an end node), back arcs dropped; saturates at maxPaths.
func (g *anaGraph) paths(entry int) int {
	return g.foldForward(entry, func(v int, succ []int, ends int) int {
		n := ends
		if len(g.out[v]) == 0 || g.kinds[v] == workflow.KindEnd {
			n++
		}
		for _, p := range succ {
			n = min(n+p, maxPaths)
		}
		return n
	})
}

func (g *anaGraph) endsDirectly(v int) bool {
	k := g.kinds[v]
	if k == workflow.KindEnd || k == workflow.KindLoop || k == workflow.KindConditional || len(g.out[v]) == 0 {
		return true
	}
	plain := false
	for i, w := range g.out[v] {
		if w == g.end {
			return true
		}
		if !g.cond[v][i] {
			plain = true
		}
	}
	return !plain
}

// canEnd reports whether some path from entry avoiding skip reaches an ending.
func (g *anaGraph) canEnd(entry, skip int) bool {
	seen := make([]bool, g.n)
	stack := []int{entry}
	seen[entry] = true
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if g.endsDirectly(v) {
			return true
		}
		for _, w := range g.out[v] {
			if w < g.n && w != skip && !seen[w] {
				seen[w] = true
				stack = append(stack, w)
			}
		}
	}
	return false
}

// reachable marks the nodes some path from entry reaches (none when entry < 0).
func (g *anaGraph) reachable(entry int) []bool {
	reach := make([]bool, g.n)
	if entry < 0 {
		return reach
	}
	stack := []int{entry}
	reach[entry] = true
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, w := range g.out[v] {
			if w < g.n && !reach[w] {
				reach[w] = true
				stack = append(stack, w)
			}
		}
	}
	return reach
}

func (g *anaGraph) bottlenecks(entry int) []int {
	if !g.canEnd(entry, -1) {
		return nil
	}
	reach := g.reachable(entry)
	var out []int
	for v := 0; v < g.n; v++ {
		if v == entry || !reach[v] || g.kinds[v] == workflow.KindEnd {
			continue
		}
		if !g.canEnd(entry, v) {
			out = append(out, v)
		}
	}
	return out
}

// AnalyticsResponse is the predecessor's WorkflowAnalyticsResponse of a definition
// (built from Analyze), with chatter's analysis beside it. complexity.score is the
// cyclomatic complexity, branching_factor the arcs per node, loop_complexity the
// cycles, conditional_complexity the conditional arcs and nodes; execution_paths
// counts paths from the entry to an end; estimated_execution_time_ms is the median
// duration of the analysed version's real runs (null before it has any; see
// runtime.go); total_execution_time_ms is the analysis's own time. runtime holds the
// definition's run statistics (DefinitionRuntime).
type AnalyticsResponse struct {
	Complexity              ComplexityMetrics `json:"complexity"`
	Bottlenecks             []BottleneckInfo  `json:"bottlenecks"`
	OptimizationSuggestions []Suggestion      `json:"optimization_suggestions"`
	ExecutionPaths          int               `json:"execution_paths"`
	EstimatedExecutionTime  *int              `json:"estimated_execution_time_ms"`
	RiskFactors             []string          `json:"risk_factors"`
	TotalExecutionTimeMS    int               `json:"total_execution_time_ms"`
	Error                   *string           `json:"error"`
	StartedAt               time.Time         `json:"started_at"`
	CompletedAt             *time.Time        `json:"completed_at"`
	// chatter's analysis (Analytics without the fields the old shape names).
	DefinitionID     string         `json:"definition_id"`
	Version          int            `json:"version"`
	Nodes            int            `json:"nodes"`
	Edges            int            `json:"edges"`
	Kinds            map[string]int `json:"kinds"`
	Entry            string         `json:"entry,omitempty"`
	Components       int            `json:"components"`
	Depth            int            `json:"depth"`
	MaxBranching     int            `json:"max_branching"`
	Cycles           []Cycle        `json:"cycles"`
	ConditionalEdges int            `json:"conditional_edges"`
	DanglingEdges    int            `json:"dangling_edges"`
	Unreachable      []string       `json:"unreachable"`
	CanEnd           bool           `json:"can_end"`
	// Runtime is the definition's run statistics, from its real runs.
	Runtime DefinitionRuntime `json:"runtime"`
}

// ComplexityMetrics is the predecessor's ComplexityMetrics.
type ComplexityMetrics struct {
	Score                 int     `json:"score"`
	NodeCount             int     `json:"node_count"`
	EdgeCount             int     `json:"edge_count"`
	Depth                 int     `json:"depth"`
	BranchingFactor       float64 `json:"branching_factor"`
	LoopComplexity        int     `json:"loop_complexity"`
	ConditionalComplexity int     `json:"conditional_complexity"`
}

// BottleneckInfo is the predecessor's BottleneckInfo: a node every run passes.
type BottleneckInfo struct {
	NodeID      string   `json:"node_id"`
	NodeType    string   `json:"node_type"`
	Reason      string   `json:"reason"`
	Severity    string   `json:"severity"` // high for nodes that call out (llm, tools, retrieval), else medium
	Suggestions []string `json:"suggestions"`
}

// Suggestion is the predecessor's OptimizationSuggestion.
type Suggestion struct {
	Type        string   `json:"type"`
	Description string   `json:"description"`
	Impact      string   `json:"impact"` // high | medium | low
	NodeIDs     []string `json:"node_ids"`
}

// analyticsResponse builds the old shape from a and rt; started is when the
// analysis began.
func analyticsResponse(d *workflow.Definition, a Analytics, rt DefinitionRuntime, started time.Time) AnalyticsResponse {
	out := AnalyticsResponse{Runtime: rt, EstimatedExecutionTime: estimatedMS(&rt.Version), Bottlenecks: []BottleneckInfo{}, OptimizationSuggestions: []Suggestion{}, RiskFactors: []string{},
		ExecutionPaths: a.Paths, StartedAt: started, DefinitionID: a.DefinitionID, Version: a.Version, Nodes: a.Nodes,
		Edges: a.Edges, Kinds: a.Kinds, Entry: a.Entry, Components: a.Components, Depth: a.Depth,
		MaxBranching: a.MaxBranching, Cycles: a.Cycles, ConditionalEdges: a.ConditionalEdges,
		DanglingEdges: a.DanglingEdges, Unreachable: a.Unreachable, CanEnd: a.CanEnd}
	out.Complexity = ComplexityMetrics{Score: a.Complexity, NodeCount: a.Nodes, EdgeCount: a.Edges, Depth: a.Depth,
		LoopComplexity: len(a.Cycles), ConditionalComplexity: a.ConditionalEdges + a.Kinds[string(workflow.KindConditional)]}
	if a.Nodes > 0 {
		out.Complexity.BranchingFactor = float64(a.Edges-a.DanglingEdges) / float64(a.Nodes)
	}
	kindOf := map[string]string{}
	for _, n := range d.Nodes {
		if _, seen := kindOf[n.ID]; !seen {
			kindOf[n.ID] = n.KindName()
			if k, ok := workflow.ParseKind(n.KindName()); ok {
				kindOf[n.ID] = string(k)
			}
		}
	}
	handlers := a.Kinds[string(workflow.KindErrorHandler)] > 0
	for _, id := range a.Bottlenecks {
		b := BottleneckInfo{NodeID: id, NodeType: kindOf[id], Severity: "medium", Suggestions: []string{},
			Reason: "every path from the entry to an end passes through this node: when it fails, the run fails"}
		switch workflow.Kind(kindOf[id]) {
		case workflow.KindLLM, workflow.KindTools, workflow.KindRetrieval:
			b.Severity = "high"
		}
		if !handlers {
			b.Suggestions = append(b.Suggestions, "add an error_handler node so that a failure here can be retried or answered")
		}
		out.Bottlenecks = append(out.Bottlenecks, b)
	}
	if a.Entry == "" && a.Nodes > 0 {
		out.RiskFactors = append(out.RiskFactors, "no entry node: add a start node")
	}
	if a.Entry != "" && !a.CanEnd {
		out.RiskFactors = append(out.RiskFactors, "no path from the entry ends the run")
	}
	for _, c := range a.Cycles {
		if c.BoundedBy != "" {
			continue
		}
		out.RiskFactors = append(out.RiskFactors, "unbounded cycle through "+strings.Join(c.Nodes, ", "))
		out.OptimizationSuggestions = append(out.OptimizationSuggestions, Suggestion{Type: "bound_cycle", Impact: "high",
			NodeIDs:     c.Nodes,
			Description: "bound the cycle: route it through a loop node (max_iterations), or make it the llm<->tools cycle (max_tool_calls)"})
	}
	if len(a.Unreachable) > 0 {
		out.RiskFactors = append(out.RiskFactors, "nodes no path from the entry reaches: "+strings.Join(a.Unreachable, ", "))
		out.OptimizationSuggestions = append(out.OptimizationSuggestions, Suggestion{Type: "remove_unreachable", Impact: "low",
			NodeIDs: a.Unreachable, Description: "remove the nodes no run can reach, or connect them"})
	}
	if a.DanglingEdges > 0 {
		out.RiskFactors = append(out.RiskFactors, "edges to or from nodes that do not exist")
	}
	if len(out.Bottlenecks) > 0 && !handlers {
		ids := make([]string, len(out.Bottlenecks))
		for i, b := range out.Bottlenecks {
			ids[i] = b.NodeID
		}
		out.OptimizationSuggestions = append(out.OptimizationSuggestions, Suggestion{Type: "add_error_handler", Impact: "medium",
			NodeIDs: ids, Description: "every run passes these nodes; an error_handler node can retry or answer when one fails"})
	}
	done := time.Now()
	out.CompletedAt = &done
	out.TotalExecutionTimeMS = int(done.Sub(started).Milliseconds())
	return out
}

// DefinitionAnalytics returns the static analysis of a definition version
// (?version=N, default latest) in the old shape, with the definition's run
// statistics (every version, and that version); see Analyze, AnalyticsResponse
// and runtime.go.
// v compiles the conditions.
func DefinitionAnalytics(s Definitions, rs RunStatsReader, v Validation) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if v.conditions == nil {
			return ErrNoValidation
		}
		d, err := definitionAt(r, s, uid)
		if err != nil {
			return err
		}
		started := time.Now()
		a := Analyze(&d.Graph, v.conditions)
		a.DefinitionID, a.Version = d.ID, d.Version
		rt, err := definitionRuntime(r.Context(), rs, uid, d.ID, d.Version)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, analyticsResponse(&d.Graph, a, rt, started))
		return nil
	})
}
