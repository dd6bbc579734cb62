package devstack_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
)

// acceptingBus accepts every entry without a network, counting calls and entries.
type acceptingBus struct{ calls, entries atomic.Int64 }

func (a *acceptingBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	a.calls.Add(1)
	a.entries.Add(int64(len(in.Entries)))
	return &eventbridge.PutEventsOutput{}, nil
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
		name string
		req  executor.Request
	}{
		{"general_chat", chat("general_chat", "hello there")},
		{"general_chat failing", chat("general_chat", "/fail invalid_request")},
		{"tool run", chat("code_assistant", `/tool calculator {"expression":"2+3"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &acceptingBus{}
			_, _ = offlineExecutor(t, bus).Execute(context.Background(), tc.req, nil)
			if c := bus.calls.Load(); c < 1 || c > 3 {
				t.Errorf("%d PutEvents calls for %d events, want 1..3", c, bus.entries.Load())
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
