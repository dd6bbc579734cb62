// Package userexpr compiles and evaluates untrusted expressions — workflow edge and
// loop conditions, the calculator tool's arithmetic — with expr-lang, so that no
// expression can exhaust memory, pin a core or outlive its caller's context.
//
// Compilation runs on an explicit allowlist: every expr builtin is disabled, and a
// Language offers only the functions of Library (when asked to) and its own. A name
// outside the allowlist is refused at compile time, naming it. Evaluation runs within
// budgets per evaluation (Limits):
//
//   - steps: every closure iteration (all, any, map, filter, …) and every function
//     call costs one step, so nested closures over long arrays cannot multiply into
//     minutes of CPU;
//   - bytes: every operation that builds a string (+, lower, upper, split) charges
//     what it will allocate before it allocates, so doubling strings through let,
//     closures or chained + stops at the budget instead of at an out-of-memory crash;
//   - elements: ranges, array and map literals and the arrays closures build count
//     against expr's own VM memory budget, checked before the allocation;
//   - time: a wall-clock budget, and the caller's context, checked every few steps,
//     so a cancelled run stops its evaluation promptly.
//
// Exceeding a budget returns a *BudgetError (code expression_budget_exceeded) naming
// the budget; a cancelled context returns an error wrapping the context's error. A
// Program is immutable and safe for concurrent use; each evaluation gets its own
// Meter through the env it runs against (see Frame).
package userexpr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Budgets, as BudgetError.Budget names them.
const (
	BudgetSteps    = "steps"
	BudgetBytes    = "bytes"
	BudgetElements = "elements"
	BudgetTime     = "time"
)

// Limits bound one evaluation. A zero field takes DefaultLimits' value.
type Limits struct {
	Steps    int           // closure iterations and function calls
	Bytes    int           // bytes of strings built (+, lower, upper, split)
	Elements int           // elements of ranges, literals and built arrays
	Time     time.Duration // wall clock
}

// MarshalJSON documents the limits (the node-types catalogue): time in milliseconds.
func (l Limits) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Steps    int   `json:"steps"`
		Bytes    int   `json:"bytes"`
		Elements int   `json:"elements"`
		TimeMS   int64 `json:"time_ms"`
	}{l.Steps, l.Bytes, l.Elements, l.Time.Milliseconds()})
}

// DefaultLimits fit every sensible condition over a message at its 100 KB cap (a
// split into words and a closure over them, a dozen lower(message)) with room to
// spare, and stop the worst expression within about a quarter of a second.
var DefaultLimits = Limits{Steps: 100_000, Bytes: 4 << 20, Elements: 100_000, Time: 250 * time.Millisecond}

func (l Limits) filled() Limits {
	d := DefaultLimits
	if l.Steps <= 0 {
		l.Steps = d.Steps
	}
	if l.Bytes <= 0 {
		l.Bytes = d.Bytes
	}
	if l.Elements <= 0 {
		l.Elements = d.Elements
	}
	if l.Time <= 0 {
		l.Time = d.Time
	}
	return l
}

// BudgetError reports an evaluation stopped by one of its budgets.
type BudgetError struct {
	Budget string // steps | bytes | elements | time
	Limit  string // the budget, for people: "100000 steps"
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("the expression exceeded its %s budget (%s per evaluation)", e.Budget, e.Limit)
}

// Code returns errcode.ExpressionBudget.
func (e *BudgetError) Code() string { return errcode.ExpressionBudget }

// Rule is a language's own grammar rule, applied to every node of an expression
// (post-order, before the allowlist): it may rewrite the node in place (ast.Patch), or
// refuse the expression by returning an error. The last error returned wins, so the
// outermost construct names the problem.
type Rule func(node *ast.Node) error

// Spec defines a Language.
type Spec struct {
	// Name names the language in messages ("conditions", "a calculator expression").
	Name string
	// Env is a zero value (or a pointer to one) of the struct expressions run
	// against. It must embed Frame; its other exported fields (expr tags rename them)
	// are the names expressions see.
	Env any
	// AsBool requires a boolean result.
	AsBool bool
	// Library offers the functions of Library().
	Library bool
	// Functions are the language's own functions, added to the library's.
	Functions []Function
	// Rule is applied to every node before the allowlist.
	Rule Rule
	// MaxNodes bounds the parsed tree (expr.MaxNodes); callers bound the source's
	// length, which they measure as written (before any translation).
	MaxNodes uint
	// Limits bound each evaluation.
	Limits Limits
}

// Function is a function an expression may call. Fn receives the evaluation's Meter
// (to Charge what it allocates); the call itself costs one step. Names starting with
// "_" are left out of the "allowed functions" messages (rewrite targets, like the
// calculator's checked operators).
type Function struct {
	Name string
	Fn   func(m *Meter, args ...any) (any, error)
	// Types are the overloads the checker accepts, without the Meter, as expr.Function
	// takes them (new(func(string) string)); none accepts any arguments and returns any.
	Types []any
}

// Language compiles expressions of one Spec.
type Language struct {
	spec      Spec
	limits    Limits
	functions map[string]bool // callable names
	builtins  map[string]bool // expr builtins (and predicates) left enabled
	opts      []expr.Option
	cache     compiledCache
}

// CacheSize bounds the compiled expressions a Language keeps: Compile answers a
// source it compiled before (program or refusal) from memory, so a calculator call
// or a definition's conditions are compiled once per Lambda instance, not per run.
// The oldest entry goes first; sources are bounded by their callers (the calculator
// takes 500 characters, a condition workflow.MaxConditionLength), so the cache holds
// at most a few MiB.
const CacheSize = 512

// compiledCache is a bounded map of compile results, evicting in insertion order.
type compiledCache struct {
	mu    sync.Mutex
	m     map[string]compiled
	order []string // ring of keys, oldest at next
	next  int
}

type compiled struct {
	p   *Program
	err error
}

func (c *compiledCache) get(src string) (compiled, bool) {
	c.mu.Lock()
	r, ok := c.m[src]
	c.mu.Unlock()
	return r, ok
}

func (c *compiledCache) put(src string, r compiled) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[src]; ok {
		return
	}
	if c.m == nil {
		c.m = make(map[string]compiled, CacheSize)
		c.order = make([]string, 0, CacheSize)
	}
	if len(c.order) < CacheSize {
		c.order = append(c.order, src)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = src
		c.next = (c.next + 1) % CacheSize
	}
	c.m[src] = r
}

// NewLanguage checks spec and prepares its compiler options.
func NewLanguage(spec Spec) (*Language, error) {
	t := reflect.TypeOf(spec.Env)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || !reflect.PointerTo(t).Implements(envType) {
		return nil, fmt.Errorf("userexpr: Spec.Env must be a struct embedding userexpr.Frame, not %v", reflect.TypeOf(spec.Env))
	}
	l := &Language{spec: spec, limits: spec.Limits.filled(), functions: map[string]bool{}, builtins: map[string]bool{}}
	if l.spec.Name == "" {
		l.spec.Name = "expressions"
	}
	// The env's type as a value: expr compiles field access on a struct (not on a
	// pointer to one) into indexed loads instead of lookups by name.
	l.opts = []expr.Option{expr.Env(reflect.Zero(t).Interface()), expr.DisableAllBuiltins(), expr.MaxNodes(spec.MaxNodes)}
	if spec.AsBool {
		l.opts = append(l.opts, expr.AsBool())
	}
	fns := internalFunctions()
	if spec.Library {
		for _, e := range library {
			switch {
			case e.fn != nil:
				fns = append(fns, *e.fn)
			case e.predicate:
				l.builtins[e.Name] = true
			default:
				l.builtins[e.Name] = true
				l.opts = append(l.opts, expr.EnableBuiltin(e.Name))
			}
		}
	}
	fns = append(fns, spec.Functions...)
	for _, f := range fns {
		bf, err := metered(f)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(f.Name, "$") {
			l.functions[f.Name] = true
		}
		l.opts = append(l.opts, func(c *conf.Config) { c.Functions[bf.Name] = bf })
	}
	return l, nil
}

// MustNewLanguage is NewLanguage for package-level languages.
func MustNewLanguage(spec Spec) *Language {
	l, err := NewLanguage(spec)
	if err != nil {
		panic(err)
	}
	return l
}

// Limits returns the language's budgets per evaluation.
func (l *Language) Limits() Limits { return l.limits }

// Program is a compiled expression. It is immutable and safe for concurrent use.
type Program struct {
	prog   *vm.Program
	limits *Limits
}

// Compile parses, checks and compiles src. The error is one line: a grammar or
// allowlist refusal names the construct, a type error is expr's message. Results are
// kept (CacheSize): the same source compiles once.
func (l *Language) Compile(src string) (*Program, error) {
	if r, ok := l.cache.get(src); ok {
		return r.p, r.err
	}
	p, err := l.compile(src)
	l.cache.put(src, compiled{p, err})
	return p, err
}

func (l *Language) compile(src string) (*Program, error) {
	c := &compilation{lang: l}
	opts := make([]expr.Option, 0, len(l.opts)+2)
	opts = append(opts, l.opts...)
	opts = append(opts, expr.Patch(prepare{c}), expr.Patch(guard{c}))
	prog, err := expr.Compile(src, opts...)
	if err := c.err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, errors.New(message(err))
	}
	return &Program{prog: prog, limits: &l.limits}, nil
}

// message is an expr error without its multi-line source snippet.
func message(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Env is the env an expression runs against: a pointer to a struct embedding Frame.
type Env interface{ frame() *Frame }

// Frame carries the evaluation's Meter to the functions an expression calls. Embed
// it in the env struct; expressions cannot name it.
type Frame struct {
	M *Meter `expr:"$meter"`
	m Meter
}

func (f *Frame) frame() *Frame { return f }

var machines = sync.Pool{New: func() any { return new(vm.VM) }}

// Run evaluates the program against env, within the language's budgets and ctx.
// env must be a fresh value (or one no other Run uses at the same time): its Frame
// holds this evaluation's Meter.
func (p *Program) Run(ctx context.Context, env Env) (any, error) {
	f := env.frame()
	f.m = Meter{ctx: ctx, limits: p.limits}
	f.M = &f.m
	machine := machines.Get().(*vm.VM)
	machine.MemoryBudget = uint(p.limits.Elements)
	out, err := machine.Run(p.prog, env)
	// Drop references to this evaluation's values before the VM is reused.
	clear(machine.Stack[:cap(machine.Stack)])
	clear(machine.Variables)
	clear(machine.Scopes[:cap(machine.Scopes)])
	machines.Put(machine)
	f.M = nil
	if err != nil {
		return nil, p.runError(err)
	}
	return out, nil
}

// runError turns what the VM recovered into a *BudgetError, the context's error, or a
// one-line runtime error.
func (p *Program) runError(err error) error {
	var be *BudgetError
	if errors.As(err, &be) {
		return be
	}
	var se *stopped
	if errors.As(err, &se) {
		return se
	}
	msg := message(err)
	if msg == "memory budget exceeded" { // expr's VM: ranges, literals, built arrays
		return &BudgetError{Budget: BudgetElements, Limit: fmt.Sprintf("%d elements", p.limits.Elements)}
	}
	return &runtimeError{msg: msg, err: err}
}

// runtimeError is a failure of the expression itself (a type mismatch, a function's
// error), in one line, wrapping what failed so callers can errors.Is their own.
type runtimeError struct {
	msg string
	err error
}

func (e *runtimeError) Error() string { return e.msg }
func (e *runtimeError) Unwrap() error { return e.err }

// metered adapts a Function to expr: the Meter arrives as the first argument (the
// compiler inserts it), the call costs one step, and the overloads gain the Meter.
func metered(f Function) (*builtin.Function, error) {
	types := make([]reflect.Type, len(f.Types))
	for i, t := range f.Types {
		rt := reflect.TypeOf(t)
		if rt.Kind() == reflect.Pointer {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Func {
			return nil, fmt.Errorf("userexpr: type %d of %s is not a function", i, f.Name)
		}
		in := []reflect.Type{meterType}
		for k := range rt.NumIn() {
			in = append(in, rt.In(k))
		}
		out := make([]reflect.Type, rt.NumOut())
		for k := range out {
			out[k] = rt.Out(k)
		}
		types[i] = reflect.FuncOf(in, out, rt.IsVariadic())
	}
	fn := f.Fn
	name := f.Name
	return &builtin.Function{
		Name:  name,
		Types: types,
		Func: func(args ...any) (any, error) {
			m, ok := args[0].(*Meter)
			if !ok || m == nil {
				return nil, fmt.Errorf("%s: called without a meter", name) // the compiler always inserts it
			}
			if err := m.step(); err != nil {
				return nil, err
			}
			return fn(m, args[1:]...)
		},
	}, nil
}

var (
	meterType = reflect.TypeOf((*Meter)(nil))
	envType   = reflect.TypeFor[Env]()
)
