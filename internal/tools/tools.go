// Package tools holds the tools a model may call during a run: a Registry of named
// tools with JSON Schema parameters, and the built-in tools (calculator, current_time).
//
// A tool failure is part of the conversation, not a crash: Registry.Call never returns
// a Go error and never panics. An unknown tool, malformed arguments, a handler error, a
// handler panic, a timeout or a cancelled run all come back as a Result with IsError
// set and a message the model can read and act on (retry with other arguments, answer
// without the tool). The executor decides what a failed call means for the run.
//
// The package does not import internal/llm (same layer); the executor turns Tools into
// llm.ToolSpecs.
package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds a tool call whose Tool.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Handler runs one tool call. args is the JSON object the model sent (already checked
// to be valid JSON). The returned error's text is shown to the model, so word it for
// the model and keep secrets out of it. Handlers should honour ctx; one that does not
// is abandoned (not stopped) when its timeout passes.
type Handler func(ctx context.Context, args json.RawMessage) (string, error)

// Tool is one callable tool. Parameters is a JSON Schema object describing args.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage // JSON Schema object
	Timeout     time.Duration   // 0 = DefaultTimeout
	Handler     Handler
	// Bounded: the handler ends within microseconds by construction (the
	// calculator's expression budgets, the clock) and honours ctx, so Call runs it
	// on the caller's goroutine under the caller's context — no goroutine, channel
	// or timer per call. A handler that waits on anything (the network, a store)
	// must leave it false and get the per-tool timeout.
	Bounded bool
}

// Result is the outcome of one call, ready to go back to the model.
type Result struct {
	Content  string        // what goes back to the model
	IsError  bool          // the tool failed; Content explains why (safe to show the model)
	Duration time.Duration // wall time of the call, including a timeout wait
}

// UnknownToolError reports tool names that a registry does not hold. Names is sorted
// and has no duplicates.
type UnknownToolError struct {
	Names []string
}

func (e *UnknownToolError) Error() string {
	return "unknown tools: " + strings.Join(e.Names, ", ")
}

// Registry is a set of tools by name. It is immutable after construction and safe for
// concurrent use; a nil *Registry behaves as an empty one. A Tool it returns is the
// caller's copy (Parameters included): the built-in registry serves every run of a
// warm Lambda, so nothing a run does to its tools may reach another run.
type Registry struct {
	tools map[string]Tool
	names []string // sorted
}

// toolNamePattern is what the provider APIs accept as a tool name.
const toolNamePattern = `^[a-zA-Z0-9_-]{1,64}$`

// validToolName checks toolNamePattern by hand, so importing the package compiles no
// regexp at cold start.
func validToolName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// emptySchema is used when a tool declares no Parameters: providers require an object
// schema even for tools without arguments.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// NewRegistry builds a registry. It reports every invalid tool at once: a name that
// does not match ^[a-zA-Z0-9_-]{1,64}$ (what the provider APIs accept), a duplicate
// name, a nil handler, a negative timeout, or Parameters that are not a JSON object
// with "type": "object". Empty Parameters mean "no arguments".
func NewRegistry(ts ...Tool) (*Registry, error) {
	r := &Registry{tools: make(map[string]Tool, len(ts))}
	var errs []error
	for i, t := range ts {
		if !validToolName(t.Name) {
			errs = append(errs, fmt.Errorf("tool %d: invalid name %q: must match %s", i, t.Name, toolNamePattern))
			continue
		}
		if _, dup := r.tools[t.Name]; dup {
			errs = append(errs, fmt.Errorf("tool %q: duplicate name", t.Name))
			continue
		}
		if t.Handler == nil {
			errs = append(errs, fmt.Errorf("tool %q: nil handler", t.Name))
		}
		if t.Timeout < 0 {
			errs = append(errs, fmt.Errorf("tool %q: negative timeout %s", t.Name, t.Timeout))
		}
		schema, err := checkSchema(t.Parameters)
		if err != nil {
			errs = append(errs, fmt.Errorf("tool %q: parameters: %w", t.Name, err))
		}
		t.Parameters = schema
		r.tools[t.Name] = t
		r.names = append(r.names, t.Name)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("tools: invalid registry: %w", errors.Join(errs...))
	}
	slices.Sort(r.names)
	return r, nil
}

// checkSchema returns a private copy of a valid parameters schema, so the caller can
// not change the registry by reusing its buffer.
func checkSchema(p json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(p)) == 0 {
		return emptySchema, nil
	}
	var s map[string]json.RawMessage
	if err := json.Unmarshal(p, &s); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var typ string
	if err := json.Unmarshal(s["type"], &typ); err != nil || typ != "object" {
		return nil, errors.New(`schema must have "type": "object"`)
	}
	return bytes.Clone(p), nil
}

// Builtins returns the registry of built-in tools (calculator, current_time). It is
// built on first use and shared, so calling it is cheap. A plain function with a
// sync.Once, not a sync.OnceValue variable: a variable's initializer runs in init,
// which would keep the tools (and expr's compiler behind the calculator) in every
// binary that imports this package.
func Builtins() *Registry {
	builtinsOnce.Do(func() {
		r, err := NewRegistry(Calculator(), CurrentTime(time.Now))
		if err != nil {
			panic(fmt.Sprintf("tools: built-in registry is invalid: %v", err)) // a programming error, caught by tests
		}
		builtinRegistry = r
	})
	return builtinRegistry
}

var (
	builtinsOnce    sync.Once
	builtinRegistry *Registry
)

// Lookup returns a copy of the tool with the given name.
func (r *Registry) Lookup(name string) (Tool, bool) {
	t, ok := r.lookup(name)
	return t.copy(), ok
}

// Has reports whether the registry holds a tool with the given name.
func (r *Registry) Has(name string) bool {
	_, ok := r.lookup(name)
	return ok
}

// lookup returns the registry's own value; it must not leave the package.
func (r *Registry) lookup(name string) (Tool, bool) {
	if r == nil {
		return Tool{}, false
	}
	t, ok := r.tools[name]
	return t, ok
}

func (t Tool) copy() Tool {
	t.Parameters = bytes.Clone(t.Parameters)
	return t
}

// Names returns the tool names, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.names)
}

// Tools returns copies of the tools, sorted by name.
func (r *Registry) Tools() []Tool {
	if r == nil {
		return nil
	}
	out := make([]Tool, len(r.names))
	for i, n := range r.names {
		out[i] = r.tools[n].copy()
	}
	return out
}

// Filter returns a registry holding only the allowed tools. A nil or empty allowed
// means all tools (r itself). Names not in r yield an *UnknownToolError listing all
// of them, so a run configured with a misspelt tool fails instead of silently running
// without it.
func (r *Registry) Filter(allowed []string) (*Registry, error) {
	if len(allowed) == 0 {
		return r, nil
	}
	out := &Registry{tools: make(map[string]Tool, len(allowed))}
	var unknown []string
	for _, n := range allowed {
		t, ok := r.lookup(n)
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if _, dup := out.tools[n]; dup {
			continue
		}
		out.tools[n] = t
		out.names = append(out.names, n)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, &UnknownToolError{Names: slices.Compact(unknown)}
	}
	slices.Sort(out.names)
	return out, nil
}

// Call runs the named tool with args and reports the outcome as a Result; see the
// package comment. Empty args mean {}. The handler runs on its own goroutine under a
// per-tool timeout, so Call returns at the timeout even if the handler ignores ctx
// (the abandoned handler keeps running until it returns on its own).
func (r *Registry) Call(ctx context.Context, name string, args json.RawMessage) Result {
	start := time.Now()
	res := r.call(ctx, name, args)
	res.Duration = time.Since(start)
	return res
}

func (r *Registry) call(ctx context.Context, name string, args json.RawMessage) Result {
	t, ok := r.lookup(name)
	if !ok {
		return failure("unknown tool %q; available tools: %s", name, strings.Join(r.Names(), ", "))
	}
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage(`{}`)
	}
	if !json.Valid(args) {
		return failure("invalid arguments for tool %q: not valid JSON", name)
	}
	if b := bytes.TrimSpace(args); b[0] != '{' {
		return failure("invalid arguments for tool %q: expected a JSON object", name)
	}
	if ctx.Err() != nil {
		return cancelled(ctx, name)
	}

	if t.Bounded {
		return callBounded(ctx, name, t.Handler, args)
	}
	timeout := t.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	type outcome struct {
		content string
		err     error
		panicV  any
	}
	// Buffered so a handler that finishes after Call gave up does not block forever.
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				logPanic(ctx, name, p)
				done <- outcome{panicV: p}
			}
		}()
		s, err := t.Handler(cctx, args)
		done <- outcome{content: s, err: err}
	}()

	var o outcome
	select {
	case o = <-done:
	case <-cctx.Done():
		// Prefer an answer that raced with the deadline.
		select {
		case o = <-done:
		default:
			if ctx.Err() != nil {
				return cancelled(ctx, name)
			}
			slog.WarnContext(ctx, "tool call timed out; handler abandoned", "tool", name, "timeout", timeout)
			return failure("tool %q timed out after %s", name, timeout)
		}
	}

	switch {
	case o.panicV != nil:
		// The panic value may hold internals; it is logged above, not sent to the model.
		return failure("tool %q failed with an internal error", name)
	case o.err != nil && ctx.Err() != nil:
		return cancelled(ctx, name)
	case o.err != nil && errors.Is(o.err, context.DeadlineExceeded) && cctx.Err() != nil:
		return failure("tool %q timed out after %s", name, timeout)
	case o.err != nil:
		return failure("tool %q failed: %s", name, o.err.Error())
	}
	return Result{Content: o.content}
}

// callBounded runs a Bounded tool's handler on the caller's goroutine, with the
// same panic, cancel and failure handling as a timed call.
func callBounded(ctx context.Context, name string, h Handler, args json.RawMessage) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			logPanic(ctx, name, p)
			res = failure("tool %q failed with an internal error", name)
		}
	}()
	s, err := h(ctx, args)
	switch {
	case err != nil && ctx.Err() != nil:
		return cancelled(ctx, name)
	case err != nil:
		return failure("tool %q failed: %s", name, err.Error())
	}
	return Result{Content: s}
}

// logPanic logs a handler's panic with its stack; the model is told only that the
// tool failed.
func logPanic(ctx context.Context, name string, p any) {
	slog.ErrorContext(ctx, "tool handler panicked", "tool", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
}

func failure(format string, a ...any) Result {
	return Result{Content: fmt.Sprintf(format, a...), IsError: true}
}

func cancelled(ctx context.Context, name string) Result {
	return failure("tool %q cancelled: %v", name, context.Cause(ctx))
}
