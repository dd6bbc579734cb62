package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/workflow"
	"github.com/chatterhq/chatter/internal/workflow/cond"
)

// builtinsSnapshot is everything of the process-wide workflow values a run reads:
// the built-in templates, the graphs they run and the dynamic graphs.
func builtinsSnapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	graph := func(name string, g *workflow.Graph, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range g.Nodes {
			cfg, _ := json.Marshal(v.Config)
			fmt.Fprintf(&b, "%s/%s %s %+v\n", name, v.ID, cfg, v.Out)
		}
		d, _ := json.Marshal(g.Def)
		b.Write(d)
		b.WriteByte('\n')
	}
	for _, tpl := range workflow.Builtins() {
		g, err := tpl.Graph(cond.Compiler)
		graph(tpl.Name, g, err)
		j, _ := json.Marshal(tpl)
		b.Write(j)
		b.WriteByte('\n')
	}
	for i := range 8 {
		c := workflow.Capabilities{Memory: i&1 != 0, Retrieval: i&2 != 0, Tools: i&4 != 0}
		g, err := workflow.DynamicGraph(cond.Compiler, c)
		graph(fmt.Sprintf("dynamic %+v", c), g, err)
	}
	return b.String()
}

// seenCall is what one model call was asked with.
type seenCall struct {
	temperature float64
	system      string
}

// echoSettings is a provider that answers with text and records each call's
// temperature and system prompt by the user message.
type echoSettings struct {
	mu   sync.Mutex
	seen map[string][]seenCall
}

func (p *echoSettings) Name() string { return "echo" }

func (p *echoSettings) Stream(_ context.Context, req *llm.Request) llm.Stream {
	c := seenCall{temperature: -1, system: req.System}
	if req.Temperature != nil {
		c.temperature = *req.Temperature
	}
	p.mu.Lock()
	if p.seen == nil {
		p.seen = map[string][]seenCall{}
	}
	msg := req.Messages[len(req.Messages)-1].Content
	p.seen[msg] = append(p.seen[msg], c)
	p.mu.Unlock()
	return &llm.SliceStream{Deltas: textDeltas("ok")}
}

func (p *echoSettings) calls(msg string) []seenCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[msg]
}

func withParams(name, msg, user string, p workflow.Params) executor.Request {
	r := template(name, msg)
	r.Input.UserID = user
	r.Source.Params = &p
	return r
}

func TestExecute_TemplateOverrideLeavesTheBuiltinUnchanged(t *testing.T) {
	before := builtinsSnapshot(t)
	p := &echoSettings{}
	h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{p} })
	hot := 1.95
	h.mustRun(t, withParams("code_assistant", "override", userA,
		workflow.Params{Temperature: &hot, SystemPrompt: "be terse", AllowedTools: []string{"calculator"}, MaxToolCalls: 2}), nil)
	if got := p.calls("override"); len(got) != 1 || got[0].temperature != 1.95 || got[0].system != "be terse" {
		t.Fatalf("override run called the model with %+v, want temperature 1.95 and the overridden prompt", got)
	}
	if after := builtinsSnapshot(t); after != before {
		t.Errorf("an override changed what every user reads of the built-ins:\nbefore %s\nafter  %s", before, after)
	}
	h.mustRun(t, template("code_assistant", "plain"), nil)
	if got := p.calls("plain"); len(got) != 1 || got[0].temperature != 0.2 {
		t.Errorf("a later run without override called the model with %+v, want the built-in temperature 0.2", got)
	}
}

func TestExecute_InvalidTemplateOverrideNamesTheParamAndLeavesTheBuiltinUsable(t *testing.T) {
	nine := 9.0
	tests := []struct {
		name      string
		params    workflow.Params
		wantField string
		wantCode  string // of the problem
	}{
		{"temperature", workflow.Params{Temperature: &nine}, "/params/temperature", workflow.CodeInvalidConfig},
		{"max_tool_calls", workflow.Params{MaxToolCalls: 51}, "/params/max_tool_calls", workflow.CodeInvalidConfig},
		{"memory_window", workflow.Params{MemoryWindow: 500}, "/params/memory_window", workflow.CodeInvalidConfig},
		{"max_tokens", workflow.Params{MaxTokens: 300000}, "/params/max_tokens", workflow.CodeInvalidConfig},
		{"unknown tool", workflow.Params{AllowedTools: []string{"calculator", "teleport"}}, "/params/allowed_tools/1", workflow.CodeUnknownTool},
	}
	before := builtinsSnapshot(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &echoSettings{}
			h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{p} })
			req := withParams("code_assistant", "bad", userA, tt.params)
			req.ExecutionID = "exec-bad-override"
			res, err := h.exec(t, req, nil)
			pe, ok := errAs[*executor.PreparationError](err)
			if !ok || pe.Code != errcode.InvalidInput {
				t.Fatalf("err = %v (%T), want a PreparationError %s", err, err, errcode.InvalidInput)
			}
			if pe.Field != strings.TrimPrefix(tt.wantField, "/") || len(pe.Problems) != 1 ||
				pe.Problems[0].Pointer != tt.wantField || pe.Problems[0].Code != tt.wantCode {
				t.Errorf("error field %q problems %+v, want %s (%s)", pe.Field, pe.Problems, tt.wantField, tt.wantCode)
			}
			if res != nil || len(p.calls("bad")) != 0 {
				t.Errorf("the run went ahead: result %+v, model calls %d", res, len(p.calls("bad")))
			}
			if _, err := h.store.GetExecution(context.Background(), userA, "exec-bad-override"); err == nil {
				t.Errorf("an execution record was stored")
			}
			h.mustRun(t, template("code_assistant", "after"), nil)
			if got := p.calls("after"); len(got) != 1 || got[0].temperature != 0.2 {
				t.Errorf("the built-in after a bad override called the model with %+v, want temperature 0.2", got)
			}
		})
	}
	if after := builtinsSnapshot(t); after != before {
		t.Errorf("bad overrides changed the built-ins:\nbefore %s\nafter  %s", before, after)
	}
}

// Two users override the same built-in at the same time (run with -race): each run
// sees its own values, and the built-in is what it was.
func TestExecute_ConcurrentOverridesOfOneBuiltinStayPerRun(t *testing.T) {
	before := builtinsSnapshot(t)
	p := &echoSettings{}
	h := newHarness(t, func(o *executor.Options) { o.Providers = []llm.Provider{p} })
	type user struct {
		id     string
		params *workflow.Params
		want   seenCall
	}
	hot, cold := 1.95, 0.1
	users := []user{
		{userA, &workflow.Params{Temperature: &hot, SystemPrompt: "prompt of a", AllowedTools: []string{"calculator"}}, seenCall{1.95, "prompt of a"}},
		{userB, &workflow.Params{Temperature: &cold, SystemPrompt: "prompt of b", AllowedTools: []string{"current_time"}}, seenCall{0.1, "prompt of b"}},
		{"user-c", nil, seenCall{0.2, ""}}, // no override: the built-in's own values
	}
	builtin, _ := workflow.Builtin("code_assistant")
	users[2].want.system = builtin.Params.SystemPrompt
	// user-d runs the shared dynamic graph with request settings.
	warm := 0.7
	users = append(users, user{"user-d", nil, seenCall{0.7, "dynamic prompt"}})
	const runs = 20
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(users)*runs)
	for _, u := range users {
		for i := range runs {
			wg.Go(func() {
				req := template("code_assistant", fmt.Sprintf("%s run %d", u.id, i))
				if u.id == "user-d" {
					req = dynamic(req.Input.Message, true, false, true)
					req.Input.Config.Temperature, req.Input.Config.SystemPromptOverride = &warm, "dynamic prompt"
				}
				req.Input.UserID, req.Source.Params = u.id, u.params
				if _, err := h.x.Execute(ctx, req, nil); err != nil {
					errs <- fmt.Errorf("%s run %d: %w", u.id, i, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, u := range users {
		for i := range runs {
			msg := fmt.Sprintf("%s run %d", u.id, i)
			if got := p.calls(msg); len(got) != 1 || got[0] != u.want {
				t.Errorf("%s: model called with %+v, want %+v", msg, got, u.want)
			}
		}
	}
	if after := builtinsSnapshot(t); after != before {
		t.Errorf("concurrent overrides changed the built-ins:\nbefore %s\nafter  %s", before, after)
	}
}
