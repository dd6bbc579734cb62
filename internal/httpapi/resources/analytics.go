package resources

import (
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
//   - Cycles: each strongly connected component with a cycle, its nodes in
//     definition order, and the node that bounds it: a loop node (bound
//     max_iterations) or, for the llm<->tools cycle, the tools node (bound
//     max_tool_calls). An empty bounded_by is an unbounded cycle.
//   - Bottlenecks: nodes every path from the entry to an ending passes through
//     (removing one leaves no way to end), other than the entry and end nodes —
//     the articulation points of the run, where a failure stops every run and
//     where parallel branches join. A node ends the run when it is an end node,
//     has no arcs out, has an arc to END, is a loop or conditional node, or has
//     only conditional arcs out.
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
}

// Cycle is one strongly connected component with a cycle.
type Cycle struct {
	Nodes     []string `json:"nodes"`
	BoundedBy string   `json:"bounded_by,omitempty"`
	Bound     string   `json:"bound,omitempty"` // max_iterations | max_tool_calls
}

type anaGraph struct {
	d     *workflow.Definition
	n     int     // real nodes
	end   int     // index of the END vertex, or -1
	out   [][]int // arcs per vertex
	cond  [][]bool
	kinds []workflow.Kind
}

// Analyze computes the analytics of d (DefinitionID and Version are left empty).
func Analyze(d *workflow.Definition) Analytics {
	g := buildAnaGraph(d)
	a := Analytics{Nodes: len(d.Nodes), Edges: len(d.Edges), Kinds: map[string]int{},
		Cycles: []Cycle{}, Bottlenecks: []string{}}
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
	}
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
	}
	a.Cycles = g.cycles()
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

// depth is the longest path in arcs between nodes from entry, back arcs dropped.
func (g *anaGraph) depth(entry int) int {
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
		best := 0
		for _, w := range g.out[v] {
			if w >= g.n {
				continue
			}
			switch state[w] {
			case fresh:
				best = max(best, 1+visit(w))
			case done:
				best = max(best, 1+memo[w])
			}
			// onStack: a back arc, dropped.
		}
		state[v], memo[v] = done, best
		return best
	}
	return visit(entry)
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

func (g *anaGraph) bottlenecks(entry int) []int {
	if !g.canEnd(entry, -1) {
		return nil
	}
	reach := make([]bool, g.n)
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

// cycles finds strongly connected components with a cycle (Tarjan).
func (g *anaGraph) cycles() []Cycle {
	n := g.n
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var comps [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		for _, w := range g.out[v] {
			if w >= n {
				continue
			}
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var c []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				c = append(c, w)
				if w == v {
					break
				}
			}
			comps = append(comps, c)
		}
	}
	for i := 0; i < n; i++ {
		if index[i] < 0 {
			visit(i)
		}
	}
	member := make([]int, n)
	for ci, c := range comps {
		for _, v := range c {
			member[v] = ci
		}
	}
	out := []Cycle{}
	emitted := make([]bool, len(comps))
	for v := 0; v < n; v++ { // definition order of each cycle's first node
		ci := member[v]
		if emitted[ci] || !g.cyclic(comps[ci]) {
			continue
		}
		emitted[ci] = true
		var c Cycle
		var tools string
		hasLLM := false
		for u := v; u < n; u++ {
			if member[u] != ci {
				continue
			}
			id := g.d.Nodes[u].ID
			c.Nodes = append(c.Nodes, id)
			switch g.kinds[u] {
			case workflow.KindLoop:
				if c.BoundedBy == "" {
					c.BoundedBy, c.Bound = id, "max_iterations"
				}
			case workflow.KindTools:
				if tools == "" {
					tools = id
				}
			case workflow.KindLLM:
				hasLLM = true
			}
		}
		if c.BoundedBy == "" && hasLLM && tools != "" {
			c.BoundedBy, c.Bound = tools, "max_tool_calls"
		}
		out = append(out, c)
	}
	return out
}

func (g *anaGraph) cyclic(c []int) bool {
	if len(c) > 1 {
		return true
	}
	for _, w := range g.out[c[0]] {
		if w == c[0] {
			return true
		}
	}
	return false
}
