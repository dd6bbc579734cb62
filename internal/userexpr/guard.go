package userexpr

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
)

// compilation is one Compile's state, shared by its two visitors. Within a pass the
// last refusal wins (post-order: the outermost construct names the problem); a
// refusal of the first pass (the language's own grammar) wins over the second's.
type compilation struct {
	lang          *Language
	first, second error
}

func (c *compilation) err() error {
	if c.first != nil {
		return c.first
	}
	return c.second
}

func (c *compilation) refusal(what string, listAllowed bool) error {
	e := &NotAllowedError{What: what, In: c.lang.spec.Name}
	if listAllowed {
		e.Allowed = c.lang.allowed()
	}
	return e
}

// NotAllowedError is an expression refused at compile time for a construct its
// language does not allow (a function outside the allowlist, a reserved name, a
// literal range over the elements budget).
type NotAllowedError struct {
	What    string // the construct: a function's name, "$env", "strings"
	In      string // the language, as Spec.Name names it; filled by Compile
	Allowed string // the functions allowed, when What is a function
}

func (e *NotAllowedError) Error() string {
	msg := "not allowed in " + e.In + ": " + e.What
	if e.Allowed != "" {
		msg += " (allowed functions: " + e.Allowed + ")"
	}
	return msg
}

// prepare runs first, on the tree as parsed: the language's Rule, the names no
// expression may use, and the Meter argument of every call to a function. The
// identifiers it inserts are never visited, so any $-name it sees was written by the
// user.
type prepare struct{ c *compilation }

func (p prepare) Visit(node *ast.Node) {
	c := p.c
	if rule := c.lang.spec.Rule; rule != nil {
		if err := rule(node); err != nil {
			var ne *NotAllowedError
			if errors.As(err, &ne) && ne.In == "" {
				ne.In = c.lang.spec.Name
			}
			c.first = err
		}
	}
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if strings.HasPrefix(n.Value, "$") {
			c.first = c.refusal(n.Value, false)
		}
	case *ast.VariableDeclaratorNode:
		if strings.HasPrefix(n.Name, "$") {
			c.first = c.refusal("variable name "+n.Name, false)
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && c.lang.functions[id.Value] {
			ast.Patch(node, &ast.CallNode{Callee: n.Callee, Arguments: append([]ast.Node{meterArg()}, n.Arguments...)})
		}
	}
}

func meterArg() ast.Node { return &ast.IdentifierNode{Value: "$meter"} }

// guard runs second, with the checker's types: the allowlist, and the rewrites that
// put every closure iteration and every string concatenation on the Meter.
type guard struct{ c *compilation }

func (g guard) Visit(node *ast.Node) {
	c := g.c
	l := c.lang
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if !l.builtins[n.Name] {
			c.second = c.refusal(n.Name, true)
		}
	case *ast.PredicateNode:
		tick := &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$tick"}, Arguments: []ast.Node{meterArg()}}
		n.Node = &ast.SequenceNode{Nodes: []ast.Node{tick, n.Node}}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			c.second = c.refusal("method calls", false)
			return
		}
		if _, isBuiltin := builtin.Index[id.Value]; isBuiltin && !l.functions[id.Value] && !strings.HasPrefix(id.Value, "$") {
			c.second = c.refusal(id.Value, true)
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "+":
			left, right := kindOf(n.Left), kindOf(n.Right)
			switch {
			case left == reflect.String && right == reflect.String:
				ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$concat"}, Arguments: []ast.Node{meterArg(), n.Left, n.Right}})
			case maybeString(left) && maybeString(right):
				ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "$add"}, Arguments: []ast.Node{meterArg(), n.Left, n.Right}})
			}
		case "..":
			from, ok1 := n.Left.(*ast.IntegerNode)
			to, ok2 := n.Right.(*ast.IntegerNode)
			// uint64 of the difference is exact for to >= from, even across the int range.
			if ok1 && ok2 && to.Value >= from.Value && uint64(to.Value-from.Value) >= uint64(l.limits.Elements) {
				c.second = c.refusal(fmt.Sprintf("range %d..%d (more than %d elements, the budget of one evaluation)", from.Value, to.Value, l.limits.Elements), false)
			}
		case "matches":
			if _, ok := n.Right.(*ast.StringNode); !ok {
				c.second = c.refusal("matches with a pattern that is not a literal string", false)
			}
		}
	}
}

// kindOf is the checked kind of a node; Interface when the checker could not tell.
func kindOf(n ast.Node) reflect.Kind {
	t := n.Type()
	if t == nil {
		return reflect.Interface
	}
	return t.Kind()
}

func maybeString(k reflect.Kind) bool { return k == reflect.String || k == reflect.Interface }

// allowed lists the names an expression of l may call, for messages.
func (l *Language) allowed() string {
	names := make([]string, 0, len(l.builtins)+len(l.functions))
	for n := range l.builtins {
		names = append(names, n)
	}
	for n := range l.functions {
		if !strings.HasPrefix(n, "_") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
