package tools

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func echoTool(name string) Tool {
	return Tool{
		Name:       name,
		Parameters: json.RawMessage(`{"type":"object","properties":{}}`),
		Handler: func(_ context.Context, args json.RawMessage) (string, error) {
			return string(args), nil
		},
	}
}

func TestNewRegistry_RejectsInvalidTools(t *testing.T) {
	withName := func(n string) Tool { return echoTool(n) }
	tests := []struct {
		name    string
		tools   []Tool
		wantErr string
	}{
		{"empty name", []Tool{withName("")}, "invalid name"},
		{"name with space", []Tool{withName("my tool")}, "invalid name"},
		{"name with dot", []Tool{withName("a.b")}, "invalid name"},
		{"name too long", []Tool{withName(strings.Repeat("a", 65))}, "invalid name"},
		{"non-ascii name", []Tool{withName("café")}, "invalid name"},
		{"duplicate", []Tool{withName("a"), withName("a")}, "duplicate"},
		{"nil handler", []Tool{{Name: "a"}}, "nil handler"},
		{"negative timeout", []Tool{{Name: "a", Timeout: -time.Second, Handler: echoTool("a").Handler}}, "negative timeout"},
		{"schema not json", []Tool{{Name: "a", Parameters: json.RawMessage(`{`), Handler: echoTool("a").Handler}}, "not a JSON object"},
		{"schema an array", []Tool{{Name: "a", Parameters: json.RawMessage(`[]`), Handler: echoTool("a").Handler}}, "not a JSON object"},
		{"schema not object type", []Tool{{Name: "a", Parameters: json.RawMessage(`{"type":"string"}`), Handler: echoTool("a").Handler}}, `"type": "object"`},
		{"schema without type", []Tool{{Name: "a", Parameters: json.RawMessage(`{"properties":{}}`), Handler: echoTool("a").Handler}}, `"type": "object"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRegistry(tt.tools...)
			if err == nil {
				t.Fatalf("NewRegistry succeeded with %d tools, want error containing %q", len(r.Names()), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewRegistry_AcceptsEveryAllowedNameCharacter(t *testing.T) {
	name := "Az09_-" + strings.Repeat("x", 58)
	r, err := NewRegistry(echoTool(name))
	if err != nil {
		t.Fatalf("NewRegistry(%q): %v", name, err)
	}
	if _, ok := r.Lookup(name); !ok {
		t.Errorf("Lookup(%q) not found", name)
	}
}

func TestNewRegistry_ReportsEveryProblemAtOnce(t *testing.T) {
	_, err := NewRegistry(Tool{Name: "bad name", Handler: echoTool("x").Handler}, Tool{Name: "nohandler"})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"bad name", "nohandler"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestNewRegistry_DefaultsEmptyParametersAndCopiesSchema(t *testing.T) {
	schema := json.RawMessage(`{"type":"object"}`)
	tool := echoTool("b")
	tool.Parameters = schema
	r, err := NewRegistry(Tool{Name: "a", Handler: echoTool("a").Handler}, tool)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Lookup("a")
	if !json.Valid(a.Parameters) || !strings.Contains(string(a.Parameters), `"object"`) {
		t.Errorf("empty Parameters became %s, want an object schema", a.Parameters)
	}
	schema[0] = 'X' // the caller reuses its buffer
	b, _ := r.Lookup("b")
	if string(b.Parameters) != `{"type":"object"}` {
		t.Errorf("registry schema changed with the caller's buffer: %s", b.Parameters)
	}
}

func TestRegistry_NamesAndToolsAreSorted(t *testing.T) {
	r, err := NewRegistry(echoTool("zeta"), echoTool("alpha"), echoTool("mid"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alpha", "mid", "zeta"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	var got []string
	for _, tool := range r.Tools() {
		got = append(got, tool.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Tools() names = %v, want %v", got, want)
	}
	r.Names()[0] = "mutated"
	if r.Names()[0] != "alpha" {
		t.Error("Names() exposes the registry's slice")
	}
	if _, ok := r.Lookup("mid"); !ok {
		t.Error(`Lookup("mid") not found`)
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Error(`Lookup("nope") found`)
	}
}

func TestBuiltins_HoldsCalculatorAndCurrentTimeAndIsShared(t *testing.T) {
	if got, want := Builtins().Names(), []string{"calculator", "current_time"}; !slices.Equal(got, want) {
		t.Errorf("Builtins().Names() = %v, want %v", got, want)
	}
	if a, b := Builtins(), Builtins(); a != b {
		t.Error("Builtins() built a new registry on the second call")
	}
	for _, tool := range Builtins().Tools() {
		if tool.Description == "" {
			t.Errorf("%s has no description", tool.Name)
		}
	}
}

func TestRegistry_Filter(t *testing.T) {
	r, err := NewRegistry(echoTool("a"), echoTool("b"), echoTool("c"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		allowed     []string
		wantNames   []string
		wantUnknown []string
	}{
		{"nil means all", nil, []string{"a", "b", "c"}, nil},
		{"empty means all", []string{}, []string{"a", "b", "c"}, nil},
		{"subset", []string{"c", "a"}, []string{"a", "c"}, nil},
		{"duplicates collapse", []string{"b", "b"}, []string{"b"}, nil},
		{"unknown names listed sorted once", []string{"a", "zz", "x", "zz"}, nil, []string{"x", "zz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Filter(tt.allowed)
			if tt.wantUnknown != nil {
				var ue *UnknownToolError
				if !errors.As(err, &ue) {
					t.Fatalf("Filter error = %v, want *UnknownToolError", err)
				}
				if !slices.Equal(ue.Names, tt.wantUnknown) {
					t.Errorf("unknown = %v, want %v", ue.Names, tt.wantUnknown)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Names(), tt.wantNames) {
				t.Errorf("Names() = %v, want %v", got.Names(), tt.wantNames)
			}
		})
	}
	if !slices.Equal(r.Names(), []string{"a", "b", "c"}) {
		t.Errorf("Filter changed the original registry: %v", r.Names())
	}
}

func TestRegistry_NilBehavesAsEmpty(t *testing.T) {
	var r *Registry
	if len(r.Names()) != 0 || len(r.Tools()) != 0 {
		t.Error("nil registry lists tools")
	}
	if res := r.Call(context.Background(), "calculator", nil); !res.IsError || !strings.Contains(res.Content, "unknown tool") {
		t.Errorf("Call on nil registry = %+v, want unknown tool error", res)
	}
}

func TestRegistry_CallTurnsFailuresIntoErrorResults(t *testing.T) {
	failing := Tool{Name: "failing", Handler: func(context.Context, json.RawMessage) (string, error) {
		return "", errors.New("quota exhausted")
	}}
	panicking := Tool{Name: "panicking", Handler: func(context.Context, json.RawMessage) (string, error) {
		panic("secret internal detail")
	}}
	respectsTimeout := Tool{Name: "respects_timeout", Timeout: 20 * time.Millisecond, Handler: func(ctx context.Context, _ json.RawMessage) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}}
	boundedFailing, boundedPanicking := failing, panicking
	boundedFailing.Name, boundedFailing.Bounded = "bounded_failing", true
	boundedPanicking.Name, boundedPanicking.Bounded = "bounded_panicking", true
	r, err := NewRegistry(echoTool("echo"), failing, panicking, respectsTimeout, boundedFailing, boundedPanicking)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		tool        string
		args        string
		wantError   bool
		wantContent string
		notContent  string
	}{
		{"success", "echo", `{"x":1}`, false, `{"x":1}`, ""},
		{"empty args become an object", "echo", ``, false, `{}`, ""},
		{"unknown tool lists available", "nope", `{}`, true, `unknown tool "nope"; available tools: bounded_failing, bounded_panicking, echo, failing`, ""},
		{"invalid json", "echo", `{"x":`, true, "not valid JSON", ""},
		{"args not an object", "echo", `[1]`, true, "expected a JSON object", ""},
		{"handler error", "failing", `{}`, true, `tool "failing" failed: quota exhausted`, ""},
		{"handler panic", "panicking", `{}`, true, "internal error", "secret"},
		{"handler honouring timeout", "respects_timeout", `{}`, true, "timed out after 20ms", ""},
		{"bounded handler error", "bounded_failing", `{}`, true, `tool "bounded_failing" failed: quota exhausted`, ""},
		{"bounded handler panic", "bounded_panicking", `{}`, true, "internal error", "secret"},
		{"bounded handler, invalid json", "bounded_failing", `{"x":`, true, "not valid JSON", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := r.Call(context.Background(), tt.tool, json.RawMessage(tt.args))
			if res.IsError != tt.wantError {
				t.Errorf("IsError = %v, want %v (content %q)", res.IsError, tt.wantError, res.Content)
			}
			if !strings.Contains(res.Content, tt.wantContent) {
				t.Errorf("Content = %q, want it to contain %q", res.Content, tt.wantContent)
			}
			if tt.notContent != "" && strings.Contains(res.Content, tt.notContent) {
				t.Errorf("Content = %q leaks %q", res.Content, tt.notContent)
			}
		})
	}
}

func TestRegistry_CallReturnsAtTimeoutWhenHandlerIgnoresContext(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	stuck := Tool{Name: "stuck", Timeout: 50 * time.Millisecond, Handler: func(context.Context, json.RawMessage) (string, error) {
		defer close(finished)
		<-release // ignores ctx on purpose
		return "too late", nil
	}}
	r, err := NewRegistry(stuck)
	if err != nil {
		t.Fatal(err)
	}
	res := r.Call(context.Background(), "stuck", nil)
	select {
	case <-finished:
		t.Fatal("handler finished before release; Call must have waited for it")
	default:
	}
	close(release)
	<-finished
	if !res.IsError || res.Content != `tool "stuck" timed out after 50ms` {
		t.Errorf("result = %+v, want timed out after 50ms", res)
	}
	if res.Duration < 50*time.Millisecond {
		t.Errorf("Duration = %s, want at least the 50ms timeout", res.Duration)
	}
}

func TestRegistry_CallReportsParentCancellation(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	var ran atomic.Bool
	blocking := Tool{Name: "blocking", Handler: func(context.Context, json.RawMessage) (string, error) {
		ran.Store(true)
		close(started)
		<-release // ignores ctx on purpose
		return "too late", nil
	}}
	r, err := NewRegistry(blocking)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("cancelled during the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-started
			cancel()
		}()
		res := r.Call(ctx, "blocking", nil)
		if !res.IsError || !strings.Contains(res.Content, "cancelled") {
			t.Errorf("result = %+v, want cancelled error", res)
		}
	})

	t.Run("cancelled before the call", func(t *testing.T) {
		ran.Store(false)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := r.Call(ctx, "blocking", nil)
		if !res.IsError || !strings.Contains(res.Content, "cancelled") {
			t.Errorf("result = %+v, want cancelled error", res)
		}
		if ran.Load() {
			t.Error("handler ran although the context was already cancelled")
		}
	})
}

func TestRegistry_CallIsSafeForConcurrentUse(t *testing.T) {
	r := Builtins()
	done := make(chan Result, 16)
	for range cap(done) {
		go func() { done <- r.Call(context.Background(), "calculator", json.RawMessage(`{"expression":"6*7"}`)) }()
	}
	for range cap(done) {
		if res := <-done; res.IsError || res.Content != "42" {
			t.Errorf("result = %+v, want 42", res)
		}
	}
}

// The built-in registry serves every run of the process: what a caller does to the
// schema bytes it got must not reach the next caller (or the next provider request).
func TestBuiltins_WritesThroughReturnedSchemasDoNotReachTheNextCaller(t *testing.T) {
	reg := Builtins()
	want := map[string]string{}
	for _, tl := range reg.Tools() {
		want[tl.Name] = string(tl.Parameters)
	}
	scribble := func(p json.RawMessage) {
		for i := range p {
			p[i] = 'X'
		}
	}
	for _, tl := range reg.Tools() {
		scribble(tl.Parameters)
	}
	for name := range want {
		tl, _ := reg.Lookup(name)
		scribble(tl.Parameters)
	}
	for _, tl := range Builtins().Tools() {
		if got := string(tl.Parameters); got != want[tl.Name] {
			t.Errorf("%s schema = %s after a caller wrote into its copy, want %s", tl.Name, got, want[tl.Name])
		}
	}
	for name := range want {
		if tl, _ := Builtins().Lookup(name); string(tl.Parameters) != want[name] {
			t.Errorf("Lookup(%s) schema = %s, want %s", name, tl.Parameters, want[name])
		}
	}
}

// A bounded tool runs under the caller's context: a cancelled caller gets a
// cancelled result, not the handler's error text.
func TestRegistry_BoundedCallHonoursTheCallersCancel(t *testing.T) {
	tool := Tool{Name: "bounded", Bounded: true, Handler: func(ctx context.Context, _ json.RawMessage) (string, error) {
		return "", ctx.Err()
	}}
	r, err := NewRegistry(tool)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := r.Call(ctx, "bounded", nil); !res.IsError || !strings.Contains(res.Content, "cancelled") {
		t.Fatalf("result %+v, want cancelled", res)
	}
	if !Calculator().Bounded || CurrentTime(time.Now).Bounded {
		t.Error("the calculator is bounded by its budgets; current_time reads time zone files and is not")
	}
}
