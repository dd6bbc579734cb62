package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Graph is a compiled, validated definition. It is immutable and safe to share
// between concurrent runs.
type Graph struct {
	Def   *Definition
	Nodes []Vertex
	Entry int

	index map[string]int
	in    []int
	scc   []int    // strongly connected component id per vertex
	reach []bitset // reach[i]: vertices reachable from i along non-back arcs
	// branch[h]: vertices error handler h can reach over any arcs (Handles).
	branch map[int][]bool
}

// Vertex is a compiled node.
type Vertex struct {
	Index  int
	ID     string
	Label  string
	Kind   Kind
	Config Config
	Cond   *Condition // conditional node condition or loop continue condition
	Out    []Arc
	// Exclusive: at least one outgoing arc has a condition, so routing picks one arc.
	Exclusive bool
	// Joins is true when the vertex has several incoming arcs: it waits for every
	// active branch that can still reach it.
	Joins bool
	// Disabled: the node is skipped (its config said enabled false).
	Disabled bool
	// Timeout limits one visit (0: the run's limit only); Retries is how many times
	// the node is run again after failing, per run.
	Timeout time.Duration
	Retries int
	// OffersTools: an llm vertex offers the tools, because an enabled tools vertex
	// follows it, directly or through conditional or disabled vertices.
	OffersTools bool

	entry bool // marked as the entry point (is_entry_point)
}

// Arc is a compiled edge. Target -1 is END.
type Arc struct {
	ID     string
	Target int
	Handle string
	Cond   *Condition
	// Body marks a loop vertex's arcs that lead back into the loop.
	Body bool
}

// Index returns the vertex index of a node id.
func (g *Graph) Index(id string) (int, bool) {
	i, ok := g.index[id]
	return i, ok
}

// CanReach reports whether vertex from can reach vertex to along forward (non-back)
// arcs. The executor uses it to hold a join until every branch that can still
// arrive has arrived.
func (g *Graph) CanReach(from, to int) bool { return g.reach[from].has(to) }

type bitset [2]uint64 // MaxNodes <= 128

func (b *bitset) set(i int)     { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b *bitset) or(o bitset)   { b[0] |= o[0]; b[1] |= o[1] }

func (g *Graph) checkStructure() []Problem {
	var ps []Problem
	n := len(g.Nodes)
	// Entry point.
	var starts []int
	for i := range g.Nodes {
		if g.Nodes[i].Kind == KindStart || g.Nodes[i].entry {
			starts = append(starts, i)
		}
	}
	if len(starts) == 0 {
		for i := range g.Nodes {
			if g.in[i] == 0 && g.Nodes[i].Kind != KindErrorHandler {
				starts = append(starts, i)
			}
		}
	}
	switch {
	case len(starts) == 0:
		ps = append(ps, Problem{Code: CodeNoEntryPoint, Pointer: "/nodes", Message: "no start node and every node has an incoming edge"})
		return ps
	case len(starts) > 1:
		for _, s := range starts[1:] {
			ps = append(ps, Problem{Code: CodeMultipleEntries, NodeID: g.Nodes[s].ID, Pointer: nodePtr(s),
				Message: fmt.Sprintf("more than one entry point: %q and %q", g.Nodes[starts[0]].ID, g.Nodes[s].ID)})
		}
	}
	g.Entry = starts[0]

	// Reachability from the entry.
	seen := make([]bool, n)
	stack := slices.Clone(starts) // every entry point, so more than one hides nothing else
	for _, s := range starts {
		seen[s] = true
	}
	for i := range g.Nodes { // error handlers are entered implicitly when a node fails
		if g.Nodes[i].Kind == KindErrorHandler && !seen[i] {
			seen[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, a := range g.Nodes[v].Out {
			if a.Target >= 0 && !seen[a.Target] {
				seen[a.Target] = true
				stack = append(stack, a.Target)
			}
		}
	}
	for i := range g.Nodes {
		if j, ok := g.index[g.Nodes[i].ID]; !ok || j != i {
			continue // no edge can name it: its id problem is reported already
		}
		if !seen[i] {
			ps = append(ps, Problem{Code: CodeUnreachableNode, NodeID: g.Nodes[i].ID, Pointer: nodePtr(i),
				Message: fmt.Sprintf("node %q cannot be reached from the entry point %q", g.Nodes[i].ID, g.Nodes[g.Entry].ID)})
		}
	}

	// END reachable: some reachable vertex can end the run.
	canEnd := make([]bool, n)
	for i := range g.Nodes {
		canEnd[i] = g.endsDirectly(i)
	}
	for changed := true; changed; {
		changed = false
		for i := range g.Nodes {
			if canEnd[i] {
				continue
			}
			for _, a := range g.Nodes[i].Out {
				if a.Target >= 0 && canEnd[a.Target] {
					canEnd[i], changed = true, true
					break
				}
			}
		}
	}
	if !canEnd[g.Entry] {
		ps = append(ps, Problem{Code: CodeEndUnreachable, NodeID: g.Nodes[g.Entry].ID, Pointer: "/edges",
			Message: "no path from the entry point reaches END or an end node"})
	}

	// Cycles must pass a bounded node, nested cycles included.
	g.scc = tarjan(g)
	g.unboundedCycles(nil, &ps)
	return ps
}

// unboundedCycles reports every cycle among the vertices keep marks (all when nil)
// that passes no bounded node (see walkCycles).
func (g *Graph) unboundedCycles(keep []bool, ps *[]Problem) {
	g.walkCycles(keep, func(ms []int, by int, _ string) {
		if by >= 0 {
			return
		}
		ids := make([]string, len(ms))
		for k, m := range ms {
			ids[k] = g.Nodes[m].ID
		}
		*ps = append(*ps, Problem{Code: CodeUnboundedCycle, NodeID: g.Nodes[ms[0]].ID, Pointer: nodePtr(ms[0]),
			Message: fmt.Sprintf("cycle through %s passes no bounded node: add a loop node with max_iterations, or route the llm<->tools cycle by has_tool_calls", strings.Join(ids, ", "))})
	})
}

// walkCycles is the one cycle analysis (validation, compile and analytics use it):
// it calls fn for every cycle among the vertices keep marks (all when nil), each a
// strongly connected component (vertices in definition order) with the vertex
// that bounds it and the bound — a loop node (max_iterations) or, in an
// llm<->tools cycle a condition routes, the tools node (max_tool_calls) — or -1
// and "" when nothing does. A bounded component is analysed again without its
// bounded nodes, so a cycle nested inside a loop's body is found too.
func (g *Graph) walkCycles(keep []bool, fn func(ms []int, by int, bound string)) {
	comp := tarjanWithin(g, keep, true)
	members := map[int][]int{}
	var order []int
	for i, c := range comp {
		if c < 0 {
			continue
		}
		if _, ok := members[c]; !ok {
			order = append(order, c)
		}
		members[c] = append(members[c], i)
	}
	for _, c := range order {
		ms := members[c]
		if !g.cyclic(ms) {
			continue
		}
		var cut []int // the component's bounded nodes
		bound := "max_iterations"
		for _, m := range ms {
			if g.Nodes[m].Kind == KindLoop {
				cut = append(cut, m)
			}
		}
		if len(cut) == 0 {
			if cut = g.toolBounded(ms); cut != nil {
				bound = "max_tool_calls"
			}
		}
		if len(cut) == 0 {
			fn(ms, -1, "")
			continue
		}
		fn(ms, cut[0], bound)
		inner := make([]bool, len(g.Nodes))
		for _, m := range ms {
			inner[m] = true
		}
		for _, m := range cut {
			inner[m] = false
		}
		g.walkCycles(inner, fn)
	}
}

// Cycle is one cycle of a definition's graph as validation sees it.
type Cycle struct {
	Nodes     []string `json:"nodes"`                // in definition order
	BoundedBy string   `json:"bounded_by,omitempty"` // the node that bounds it; empty: unbounded
	Bound     string   `json:"bound,omitempty"`      // max_iterations | max_tool_calls
}

// Cycles lists every cycle of d, nested ones included (see walkCycles), even when d
// does not validate: the graph is built as far as it can be (unknown nodes,
// dangling edges and conditions that do not compile left out). cc compiles the
// conditions whose guard bounds a cycle (Options.Conditions); without it every
// conditional arc counts as unguarded.
func Cycles(d *Definition, cc ConditionCompiler) []Cycle {
	out := []Cycle{}
	g, _ := build(d, Options{Conditions: cc})
	if g == nil {
		return out
	}
	g.walkCycles(nil, func(ms []int, by int, bound string) {
		c := Cycle{Nodes: make([]string, len(ms)), Bound: bound}
		for k, m := range ms {
			c.Nodes[k] = g.Nodes[m].ID
		}
		if by >= 0 {
			c.BoundedBy = g.Nodes[by].ID
		}
		out = append(out, c)
	})
	return out
}

// endsDirectly reports whether vertex i can end the run by itself.
func (g *Graph) endsDirectly(i int) bool {
	v := &g.Nodes[i]
	if v.Kind == KindEnd || len(v.Out) == 0 || v.Kind == KindLoop || v.Kind == KindConditional {
		return true
	}
	plain := false
	for _, a := range v.Out {
		if a.Target < 0 {
			return true
		}
		if a.Cond == nil {
			plain = true
		}
	}
	return !plain // only conditional arcs: none true means END
}

// cyclic reports whether the component ms holds a cycle a run can go round.
func (g *Graph) cyclic(ms []int) bool {
	if len(ms) > 1 {
		return true
	}
	self := false
	g.cycleSucc(ms[0], func(w int, _ *Arc) bool {
		self = w == ms[0]
		return !self
	})
	return self
}

// toolBounded returns the vertices that bound the cycle component ms by
// max_tool_calls, or nil when it is not so bounded: every cycle in it passes an arc
// taken only while tool calls are pending (a has_tool_calls condition, on the arc or
// as the routing of a conditional node: Condition.impliesPending) and a vertex that
// settles them — an enabled tools vertex (runs them) or an llm vertex (its turn
// replaces them, and asks for tools only until max_tool_calls is spent). Each time
// round then needs a model turn that asked for tools. A cycle any other condition
// routes (no_tool_calls, "message contains x") is not bounded by it. The bounding
// vertices are the component's tools vertices, else its llm vertices.
func (g *Graph) toolBounded(ms []int) []int {
	in := make([]bool, len(g.Nodes))
	unsettled := make([]bool, len(g.Nodes))
	var tools, llms []int
	for _, m := range ms {
		in[m], unsettled[m] = true, true
		switch v := &g.Nodes[m]; {
		case v.Kind == KindLLM:
			llms, unsettled[m] = append(llms, m), false
		case v.Kind == KindTools && !v.Disabled:
			tools, unsettled[m] = append(tools, m), false
		}
	}
	if len(tools)+len(llms) == 0 || !g.acyclic(in, true) || !g.acyclic(unsettled, false) {
		return nil
	}
	if len(tools) > 0 {
		return tools
	}
	return llms
}

// pendingOnly reports whether the run takes arc a out of x only while tool calls
// are pending.
func pendingOnly(x *Vertex, a *Arc) bool {
	if x.Kind == KindConditional && x.Cond != nil && isBoolHandle(a.Handle) {
		return handleIs(a.Handle, "true") && x.Cond.impliesPending(true) ||
			handleIs(a.Handle, "false") && x.Cond.impliesPending(false)
	}
	return a.Cond.impliesPending(true)
}

// acyclic reports whether the vertices in marks hold no cycle over the arcs a run
// can take (cycleSucc), leaving out the pendingOnly arcs when skipPending.
func (g *Graph) acyclic(in []bool, skipPending bool) bool {
	state := make([]uint8, len(g.Nodes)) // 0 new, 1 on the path, 2 done
	var visit func(v int) bool
	visit = func(v int) bool {
		state[v] = 1
		ok := true
		g.cycleSucc(v, func(w int, a *Arc) bool {
			if !in[w] || skipPending && a != nil && pendingOnly(&g.Nodes[v], a) {
				return true
			}
			if state[w] == 1 || state[w] == 0 && !visit(w) {
				ok = false
			}
			return ok
		})
		state[v] = 2
		return ok
	}
	for v := range g.Nodes {
		if in[v] && state[v] == 0 && !visit(v) {
			return false
		}
	}
	return true
}

// cycleSucc calls fn with each vertex a run can go on to from v along an arc,
// with the arc, until fn returns false. Arcs into error handlers are left out: on
// success the run drops them, and a failure goes only to a handler whose branch
// does not lead back to the failing vertex (Handles) — so no way round a cycle
// passes a handler's entry. A handler whose fallback_action is stop has no way on:
// once its retries (bounded by retry_count) are spent it ends the run.
func (g *Graph) cycleSucc(v int, fn func(w int, a *Arc) bool) {
	x := &g.Nodes[v]
	if c, ok := x.Config.(*ErrorHandlerConfig); ok && c.FallbackAction == FallbackStop {
		return
	}
	for i := range x.Out {
		a := &x.Out[i]
		if a.Target < 0 || g.Nodes[a.Target].Kind == KindErrorHandler {
			continue
		}
		if !fn(a.Target, a) {
			return
		}
	}
}

// Handles reports whether error handler h takes a failure of vertex v: h is an
// error handler and nothing on its branch (what it can reach over any arcs) is v.
// A handler that could lead the run back into the node that failed would repeat the
// failure until the step limit; that failure ends the run instead.
func (g *Graph) Handles(h, v int) bool {
	if h < 0 || h >= len(g.Nodes) || g.Nodes[h].Kind != KindErrorHandler {
		return false
	}
	return !g.branch[h][v]
}

// branches computes what each error handler can reach, for Handles.
func (g *Graph) branches() {
	g.branch = map[int][]bool{}
	for h := range g.Nodes {
		if g.Nodes[h].Kind != KindErrorHandler {
			continue
		}
		seen := make([]bool, len(g.Nodes))
		stack := []int{h}
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, a := range g.Nodes[u].Out {
				if w := a.Target; w >= 0 && !seen[w] {
					seen[w] = true
					stack = append(stack, w)
				}
			}
		}
		g.branch[h] = seen
	}
}

func condArcs(v *Vertex) bool {
	for _, a := range v.Out {
		if a.Cond != nil {
			return true
		}
	}
	return false
}

// offersTools reports whether an enabled tools vertex follows v, directly or
// through conditional and disabled vertices.
func (g *Graph) offersTools(v int) bool {
	seen := make([]bool, len(g.Nodes))
	stack := []int{v}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, a := range g.Nodes[u].Out {
			t := a.Target
			if t < 0 || seen[t] {
				continue
			}
			seen[t] = true
			switch w := &g.Nodes[t]; {
			case w.Kind == KindTools && !w.Disabled:
				return true
			case w.Kind == KindConditional || w.Disabled:
				stack = append(stack, t)
			}
		}
	}
	return false
}

func tarjan(g *Graph) []int { return tarjanWithin(g, nil, false) }

// tarjanWithin is tarjan on the vertices keep marks (all when keep is nil): arcs to
// other vertices are ignored and their component is -1. With runOnly, only the arcs
// a run can go round a cycle by count (cycleSucc).
func tarjanWithin(g *Graph, keep []bool, runOnly bool) []int {
	n := len(g.Nodes)
	in := func(v int) bool { return keep == nil || keep[v] }
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		step := func(w int, _ *Arc) bool {
			if w < 0 || !in(w) {
				return true
			}
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
			return true
		}
		if runOnly {
			g.cycleSucc(v, step)
		} else {
			for _, a := range g.Nodes[v].Out {
				step(a.Target, nil)
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp[w] = ncomp
				if w == v {
					break
				}
			}
			ncomp++
		}
	}
	for i := range g.Nodes {
		switch {
		case !in(i):
			comp[i] = -1
		case index[i] < 0:
			visit(i)
		}
	}
	return comp
}

// finish computes routing metadata: exclusive routing, loop body arcs, joins and
// forward reachability.
func (g *Graph) finish() {
	g.branches()
	n := len(g.Nodes)
	for i := range g.Nodes {
		v := &g.Nodes[i]
		v.Joins = g.in[i] > 1
		v.OffersTools = v.Kind == KindLLM && g.offersTools(i)
		for k := range v.Out {
			a := &v.Out[k]
			if a.Cond != nil {
				v.Exclusive = true
			}
			if v.Kind == KindLoop && a.Target >= 0 && g.scc[a.Target] == g.scc[i] {
				a.Body = true
			}
		}
	}
	// Back arcs: arcs to a vertex on the DFS stack from the entry.
	back := make(map[[2]int]bool)
	state := make([]uint8, n) // 0 new, 1 on stack, 2 done
	var order []int
	var dfs func(v int)
	dfs = func(v int) {
		state[v] = 1
		for _, a := range g.Nodes[v].Out {
			w := a.Target
			if w < 0 {
				continue
			}
			switch state[w] {
			case 0:
				dfs(w)
			case 1:
				back[[2]int{v, w}] = true
			}
		}
		state[v] = 2
		order = append(order, v) // post-order
	}
	dfs(g.Entry)
	// Error handlers are entered without an edge: search from them next, so the
	// arcs they enter by are tree arcs (not back arcs) and their branches count for
	// joins; then from whatever is left.
	for v := range g.Nodes {
		if state[v] == 0 && g.Nodes[v].Kind == KindErrorHandler {
			dfs(v)
		}
	}
	for v := range g.Nodes {
		if state[v] == 0 {
			dfs(v)
		}
	}
	g.reach = make([]bitset, n)
	for _, v := range order { // post-order: successors first
		for _, a := range g.Nodes[v].Out {
			w := a.Target
			if w < 0 || back[[2]int{v, w}] {
				continue
			}
			g.reach[v].set(w)
			g.reach[v].or(g.reach[w])
		}
	}
}
