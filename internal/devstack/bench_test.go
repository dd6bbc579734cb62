package devstack_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
)

// acceptingBus accepts every entry without a network, counting calls and entries
// and keeping the detail types it was sent.
type acceptingBus struct {
	calls, entries atomic.Int64
	mu             sync.Mutex
	types          []string
}

func (a *acceptingBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	a.calls.Add(1)
	a.entries.Add(int64(len(in.Entries)))
	a.mu.Lock()
	for _, e := range in.Entries {
		a.types = append(a.types, aws.ToString(e.DetailType))
	}
	a.mu.Unlock()
	return &eventbridge.PutEventsOutput{}, nil
}

func (a *acceptingBus) sent() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.types...)
}

func offlineExecutor(tb testing.TB, bus *acceptingBus) *executor.Executor {
	tb.Helper()
	pub, err := events.NewPublisher(events.PublisherOptions{Client: bus, BusName: "bench", Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	x, err := executor.New(executor.Options{Store: store.NewMemory(), Emitter: pub,
		Providers: []llm.Provider{devllm.New(devllm.Options{})}, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

func TestPublisher_AtMostThreePutEventsPerExecution(t *testing.T) {
	for _, tc := range []struct {
		name     string
		req      executor.Request
		wantCode string // "" = completed
		terminal string
		also     string // an event the run must have sent
	}{
		{"general_chat", chat("general_chat", "hello there"), "", events.ExecutionCompleted, events.TokenUsage},
		{"general_chat failing", chat("general_chat", "/fail invalid_request"), errcode.LLM, events.ExecutionFailed, events.NodeExecuted},
		{"tool run", chat("code_assistant", `/tool calculator {"expression":"2+3"}`), "", events.ExecutionCompleted, events.ToolCalled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &acceptingBus{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := offlineExecutor(t, bus).Execute(ctx, tc.req, nil)
			got := ""
			if err != nil {
				got = executor.ErrorCode(err)
			}
			if got != tc.wantCode || res == nil {
				t.Fatalf("Execute: %v (code %q), result %v; want code %q", err, got, res, tc.wantCode)
			}
			if c := bus.calls.Load(); c < 1 || c > 3 {
				t.Errorf("%d PutEvents calls for %d events, want 1..3", c, bus.entries.Load())
			}
			// Every event of the run was sent before Execute returned, the
			// terminal one exactly once and last.
			sent := bus.sent()
			n := map[string]int{}
			for _, ty := range sent {
				n[ty]++
			}
			if len(sent) == 0 || sent[len(sent)-1] != tc.terminal || n[tc.terminal] != 1 {
				t.Errorf("sent %v: want %s once, last", sent, tc.terminal)
			}
			if n[events.WorkflowStarted] != 1 || n[tc.also] == 0 {
				t.Errorf("sent %v: want one %s and a %s", sent, events.WorkflowStarted, tc.also)
			}
		})
	}
}

// BenchmarkGeneralChatPutEvents reports PutEvents calls and events per general_chat
// execution (target: at most 3 calls), and the run's cost with the publisher.
func BenchmarkGeneralChatPutEvents(b *testing.B) {
	bus := &acceptingBus{}
	x := offlineExecutor(b, bus)
	req := chat("general_chat", "hello there")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Execute(context.Background(), req, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bus.calls.Load())/float64(b.N), "puts/exec")
	b.ReportMetric(float64(bus.entries.Load())/float64(b.N), "events/exec")
}
