package workflow

import (
	"context"
	"fmt"
	"strings"
)

// ConditionError is a condition that failed while routing: the node routing, the
// edge whose condition it was (empty for a conditional node's own condition), and why.
type ConditionError struct {
	NodeID string
	EdgeID string
	Err    error
}

func (e *ConditionError) Error() string {
	if e.EdgeID != "" {
		return fmt.Sprintf("condition of edge %q: %v", e.EdgeID, e.Err)
	}
	return fmt.Sprintf("condition of node %q: %v", e.NodeID, e.Err)
}

func (e *ConditionError) Unwrap() error { return e.Err }

// Next appends to dst the vertices that vertex v hands control to (-1 is END).
//
// Rules: an end node ends its branch. A conditional node with a condition takes its
// arcs whose sourceHandle matches the result ("true"/"false"), else routes the rest.
// A loop node routes over its body arcs while env.Loop[id].Continue, else over its
// exit arcs. A human node of approval input routes like a conditional node on the
// person's decision: approve takes its true/yes/approve(d) arcs, reject its
// false/no/reject(ed) arcs. Routing over a set of arcs: when any has a condition, the first true
// one wins, else the first plain arc, else END; when all are plain, every arc is
// taken (fan-out); no arcs means END. A condition that fails is a *ConditionError;
// conditions are evaluated within their budgets and ctx.
func (g *Graph) Next(ctx context.Context, dst []int, v int, env *Env) ([]int, error) {
	x := &g.Nodes[v]
	switch x.Kind {
	case KindEnd:
		return append(dst, -1), nil
	case KindConditional:
		if x.Cond != nil {
			ok, err := x.Cond.Eval(ctx, env)
			if err != nil {
				return dst, &ConditionError{NodeID: x.ID, Err: err}
			}
			want := "false"
			if ok {
				want = "true"
			}
			matched := false
			for _, a := range x.Out {
				if handleIs(a.Handle, want) {
					dst = append(dst, a.Target)
					matched = true
				}
			}
			if matched {
				return dst, nil
			}
			return route(ctx, dst, x, env, func(a *Arc) bool { return a.Handle == "" || !isBoolHandle(a.Handle) })
		}
	case KindHuman:
		if hc, ok := x.Config.(*HumanConfig); ok && hc.Input == HumanApproval {
			want := "false"
			if d, _ := env.Variables[hc.Variable].(string); d == HumanApprove {
				want = "true"
			}
			matched := false
			for _, a := range x.Out {
				if handleIs(a.Handle, want) {
					dst = append(dst, a.Target)
					matched = true
				}
			}
			if matched {
				return dst, nil
			}
			return route(ctx, dst, x, env, func(a *Arc) bool { return a.Handle == "" || !isBoolHandle(a.Handle) })
		}
	case KindLoop:
		cont := false
		if li := env.Loop[x.ID]; li != nil {
			cont = li.Continue
		}
		return route(ctx, dst, x, env, func(a *Arc) bool { return a.Body == cont })
	}
	return route(ctx, dst, x, env, nil)
}

func route(ctx context.Context, dst []int, x *Vertex, env *Env, keep func(*Arc) bool) ([]int, error) {
	arcs := x.Out
	exclusive := false
	n := 0
	for i := range arcs {
		if keep != nil && !keep(&arcs[i]) {
			continue
		}
		n++
		if arcs[i].Cond != nil {
			exclusive = true
		}
	}
	if n == 0 {
		return append(dst, -1), nil
	}
	if !exclusive {
		for i := range arcs {
			if keep == nil || keep(&arcs[i]) {
				dst = append(dst, arcs[i].Target)
			}
		}
		return dst, nil
	}
	firstPlain := -2
	for i := range arcs {
		a := &arcs[i]
		if keep != nil && !keep(a) {
			continue
		}
		if a.Cond == nil {
			if firstPlain == -2 {
				firstPlain = a.Target
			}
			continue
		}
		ok, err := a.Cond.Eval(ctx, env)
		if err != nil {
			return dst, &ConditionError{NodeID: x.ID, EdgeID: a.ID, Err: err}
		}
		if ok {
			return append(dst, a.Target), nil
		}
	}
	if firstPlain != -2 {
		return append(dst, firstPlain), nil
	}
	return append(dst, -1), nil
}

func isBoolHandle(h string) bool {
	return handleIs(h, "true") || handleIs(h, "false")
}

func handleIs(h, want string) bool {
	h = strings.ToLower(h)
	if want == "true" {
		return h == "true" || h == "yes" || h == HumanApprove || h == "approved"
	}
	return h == "false" || h == "no" || h == HumanReject || h == "rejected"
}
