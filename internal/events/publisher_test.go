package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/text"
	"github.com/chatterhq/chatter/internal/wire"
)

// fakeBus records PutEvents calls; fail decides per call and entry whether that
// entry fails (attempt counts calls from 1).
type fakeBus struct {
	mu      sync.Mutex
	calls   [][]types.PutEventsRequestEntry
	fail    func(call int, detailType string) bool
	down    bool
	release chan struct{} // when set, each call waits for a value
	entered chan struct{} // when set, each call reports it started
}

func (f *fakeBus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.release != nil {
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]types.PutEventsRequestEntry(nil), in.Entries...))
	if len(in.Entries) > events.MaxBatchEntries {
		return nil, fmt.Errorf("%d entries", len(in.Entries))
	}
	if f.down {
		return nil, errors.New("dial tcp: connection refused")
	}
	out := &eventbridge.PutEventsOutput{}
	for _, e := range in.Entries {
		if f.fail != nil && f.fail(len(f.calls), *e.DetailType) {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("try again")})
			continue
		}
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String("ev")})
	}
	return out, nil
}

func (f *fakeBus) detailTypes() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, c := range f.calls {
		var ts []string
		for _, e := range c {
			ts = append(ts, *e.DetailType)
		}
		out = append(out, ts)
	}
	return out
}

func noSleep(context.Context, time.Duration) error { return nil }

func newPublisher(t testing.TB, bus events.PutEventsAPI, mod func(*events.PublisherOptions)) *events.Publisher {
	t.Helper()
	o := events.PublisherOptions{Client: bus, BusName: "chatter-test", Sleep: noSleep, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&o)
	}
	p, err := events.NewPublisher(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// trail is a run's events: n node_executed events then a terminal one.
func trail(n int, terminal string) []events.Event {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var evs []events.Event
	for i := 1; i <= n; i++ {
		evs = append(evs, events.Event{ID: fmt.Sprintf("ev%02d", i), Version: events.SchemaVersion, Type: events.NodeExecuted,
			ExecutionID: "x1", UserID: "u1", Seq: i, Time: t0.Add(time.Duration(i) * time.Millisecond),
			Data: events.NodeExecutedData{NodeID: "llm", Kind: "llm", Step: i, Status: "ok", DurationMS: 1.5}})
	}
	evs = append(evs, events.Event{ID: fmt.Sprintf("ev%02d", n+1), Version: events.SchemaVersion, Type: terminal,
		ExecutionID: "x1", UserID: "u1", Seq: n + 1, Time: t0.Add(time.Second),
		Data: events.ExecutionEndData{Status: "completed", Usage: wire.Usage{TotalTokens: 9}}})
	return evs
}

func TestPublisher_BatchesByTenAndSendsTheRestOnFlush(t *testing.T) {
	for _, tc := range []struct {
		events, wantCalls int
	}{{1, 1}, {10, 1}, {11, 2}, {24, 3}} {
		t.Run(fmt.Sprint(tc.events), func(t *testing.T) {
			bus := &fakeBus{}
			p := newPublisher(t, bus, nil)
			evs := trail(tc.events-1, events.ExecutionCompleted)
			for _, e := range evs {
				p.Emit(context.Background(), e)
			}
			if err := p.Flush(context.Background(), "x1"); err != nil {
				t.Fatal(err)
			}
			calls := bus.detailTypes()
			if len(calls) != tc.wantCalls {
				t.Fatalf("%d PutEvents calls, want %d", len(calls), tc.wantCalls)
			}
			total := 0
			for _, c := range calls {
				total += len(c)
			}
			if total != tc.events {
				t.Errorf("sent %d entries, want %d", total, tc.events)
			}
		})
	}
}

func TestPublisher_EntryCarriesSourceTypeBusAndDetail(t *testing.T) {
	bus := &fakeBus{}
	p := newPublisher(t, bus, nil)
	e := trail(0, events.ExecutionCompleted)[0]
	p.Emit(context.Background(), e)
	if err := p.Flush(context.Background(), "x1"); err != nil {
		t.Fatal(err)
	}
	got := bus.calls[0][0]
	if *got.Source != events.Source || *got.DetailType != events.ExecutionCompleted || *got.EventBusName != "chatter-test" || !got.Time.Equal(e.Time) {
		t.Fatalf("entry = %+v", got)
	}
	back, err := events.Decode(events.Envelope{Source: *got.Source, DetailType: *got.DetailType, Detail: []byte(*got.Detail)})
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := back.EndData(); !ok || d.TotalTokens != 9 || back.ID != e.ID || back.Seq != e.Seq {
		t.Fatalf("decoded %+v", back)
	}
}

func TestPublisher_RetriesOnlyFailedEntries(t *testing.T) {
	bus := &fakeBus{fail: func(call int, typ string) bool { return call == 1 && typ == events.ExecutionCompleted }}
	p := newPublisher(t, bus, nil)
	for _, e := range trail(4, events.ExecutionCompleted) {
		p.Emit(context.Background(), e)
	}
	if err := p.Flush(context.Background(), "x1"); err != nil {
		t.Fatal(err)
	}
	calls := bus.detailTypes()
	if len(calls) != 2 || len(calls[0]) != 5 || len(calls[1]) != 1 || calls[1][0] != events.ExecutionCompleted {
		t.Fatalf("calls = %v, want 5 entries then only the failed one", calls)
	}
}

func TestPublisher_GivesUpAfterAttemptsAndFallsBackForTerminal(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bus        *fakeBus
		wantLost   int
		wantCalls  int
		fallbackOK bool
	}{
		{"bus down", &fakeBus{down: true}, 4, 3, true},
		{"entries keep failing", &fakeBus{fail: func(int, string) bool { return true }}, 4, 3, true},
		{"fallback fails too", &fakeBus{down: true}, 4, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fellBack []events.Event
			p := newPublisher(t, tc.bus, func(o *events.PublisherOptions) {
				o.Attempts = 3
				o.Fallback = func(_ context.Context, e events.Event) error {
					fellBack = append(fellBack, e)
					if !tc.fallbackOK {
						return errors.New("table down")
					}
					return nil
				}
			})
			for _, e := range trail(3, events.ExecutionFailed) {
				p.Emit(context.Background(), e)
			}
			err := p.Flush(context.Background(), "x1")
			var de *events.DeliveryError
			if !errors.As(err, &de) || de.Lost != tc.wantLost {
				t.Fatalf("Flush = %v, want DeliveryError losing %d", err, tc.wantLost)
			}
			if len(bus(tc.bus)) != tc.wantCalls {
				t.Errorf("%d calls, want %d", len(bus(tc.bus)), tc.wantCalls)
			}
			if len(fellBack) != 1 || fellBack[0].Type != events.ExecutionFailed {
				t.Fatalf("fallback got %v, want the terminal event only", fellBack)
			}
			wantSaved := map[bool]int{true: 1, false: 0}[tc.fallbackOK]
			if de.Saved != wantSaved {
				t.Errorf("Saved = %d, want %d", de.Saved, wantSaved)
			}
			if !tc.fallbackOK && !strings.Contains(err.Error(), "table down") {
				t.Errorf("error %q does not carry the fallback failure", err)
			}
			if err := p.Flush(context.Background(), "x1"); err != nil {
				t.Errorf("second Flush = %v, want nil (losses are reported once)", err)
			}
		})
	}
}

func bus(f *fakeBus) [][]string { return f.detailTypes() }

func TestPublisher_BackoffGrowsWithinBounds(t *testing.T) {
	var waits []time.Duration
	p := newPublisher(t, &fakeBus{down: true}, func(o *events.PublisherOptions) {
		o.Attempts, o.Backoff, o.MaxBackoff = 5, 100*time.Millisecond, 300*time.Millisecond
		o.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	})
	p.Emit(context.Background(), trail(1, events.ExecutionCompleted)[0])
	_ = p.Flush(context.Background(), "x1")
	bounds := [][2]time.Duration{{50, 100}, {100, 200}, {150, 300}, {150, 300}}
	if len(waits) != len(bounds) {
		t.Fatalf("waits = %v, want %d", waits, len(bounds))
	}
	for i, w := range waits {
		lo, hi := bounds[i][0]*time.Millisecond, bounds[i][1]*time.Millisecond
		if w < lo || w > hi {
			t.Errorf("wait %d = %v, want in [%v, %v]", i+1, w, lo, hi)
		}
	}
}

func TestPublisher_FlushStopsRetryingWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	p := newPublisher(t, &fakeBus{down: true}, func(o *events.PublisherOptions) {
		o.Attempts = 100
		o.Sleep = func(ctx context.Context, _ time.Duration) error {
			calls++
			cancel()
			return ctx.Err()
		}
	})
	p.Emit(context.Background(), trail(0, events.ExecutionCompleted)[0])
	err := p.Flush(ctx, "x1")
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Flush = %v after %d waits, want context.Canceled after 1", err, calls)
	}
}

func TestPublisher_EmitDoesNotWaitForTheNetwork(t *testing.T) {
	bus := &fakeBus{release: make(chan struct{}), entered: make(chan struct{}, 10)}
	p := newPublisher(t, bus, nil)
	evs := trail(24, events.ExecutionCompleted) // 25 events
	// Every wait has its own deadline: a publisher that blocks fails here, not at
	// the package timeout.
	deadline := time.After(10 * time.Second)
	within := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: still waiting after 10 s", what)
		}
	}
	for _, e := range evs[:10] {
		p.Emit(context.Background(), e)
	}
	within("the first full batch reaching the bus", bus.entered) // on its way and held there
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for _, e := range evs[10:] {
			p.Emit(context.Background(), e) // would block here if Emit waited for the send
		}
	}()
	within("Emit while a send is held", emitted)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Flush(ctx, "x1") }()
	for i := range 3 {
		select {
		case bus.release <- struct{}{}:
		case <-deadline:
			t.Fatalf("batch %d never reached the bus", i+1)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, c := range bus.detailTypes() {
		sent += len(c)
	}
	if sent != len(evs) {
		t.Fatalf("sent %d, want %d", sent, len(evs))
	}
}

func TestPublisher_ConcurrentEmitsAllArrive(t *testing.T) {
	bus := &fakeBus{}
	p := newPublisher(t, bus, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 37 {
				p.Emit(context.Background(), events.Event{ID: fmt.Sprintf("%d-%d", g, i), Type: events.NodeExecuted, ExecutionID: "x1", Seq: i + 1})
			}
		})
	}
	wg.Wait()
	if err := p.Flush(context.Background(), "x1"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range bus.calls {
		if len(c) > events.MaxBatchEntries {
			t.Fatalf("batch of %d", len(c))
		}
		for _, e := range c {
			seen[*e.Detail] = true
		}
	}
	if len(seen) != 8*37 {
		t.Fatalf("%d distinct events arrived, want %d", len(seen), 8*37)
	}
}

func TestPublisher_OversizedTerminalEventKeepsFitting(t *testing.T) {
	bus := &fakeBus{}
	p := newPublisher(t, bus, nil)
	e := trail(0, events.ExecutionCompleted)[0]
	out := strings.Repeat("<é>", 200_000) // escapes grow it
	e.Data = events.ExecutionEndData{Status: "completed", Output: out}
	p.Emit(context.Background(), e)
	if err := p.Flush(context.Background(), "x1"); err != nil {
		t.Fatal(err)
	}
	d := *bus.calls[0][0].Detail
	if size := len(d) + len(events.Source) + len(events.ExecutionCompleted) + 14; size > events.MaxBatchBytes {
		t.Fatalf("entry is %d bytes, over %d", size, events.MaxBatchBytes)
	}
	back, err := events.Decode(events.Envelope{Source: events.Source, DetailType: events.ExecutionCompleted, Detail: []byte(d)})
	if err != nil {
		t.Fatal(err)
	}
	if end, _ := back.EndData(); !strings.HasPrefix(end.Output, "<é><é>") || len(end.Output) < 60_000 ||
		!strings.HasSuffix(end.Output, text.Marker) || !text.Shortened(end.Output, out) {
		t.Fatalf("output cut to %d bytes, want a long prefix on a character boundary ending with the marker", len(end.Output))
	}
}

func TestPublisher_LargeEventsSplitBatchesBySize(t *testing.T) {
	bus := &fakeBus{}
	p := newPublisher(t, bus, nil)
	for _, e := range trail(3, events.ExecutionCompleted) {
		e.Data = events.ExecutionEndData{Status: "completed", Output: strings.Repeat("a", 100_000)}
		p.Emit(context.Background(), e)
	}
	if err := p.Flush(context.Background(), "x1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range bus.calls {
		size := 0
		for _, e := range c {
			size += len(*e.Detail) + len(*e.Source) + len(*e.DetailType) + 14
		}
		if size > events.MaxBatchBytes {
			t.Fatalf("a call carried %d bytes", size)
		}
	}
	if len(bus.calls) != 2 {
		t.Fatalf("%d calls, want 2 (two 100 KB events per call)", len(bus.calls))
	}
}

func BenchmarkPublisherEmit(b *testing.B) {
	bus := &fakeBus{}
	p := newPublisher(b, bus, nil)
	e := trail(1, events.ExecutionCompleted)[0]
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e.Seq = i + 1
		p.Emit(ctx, e)
		if i%10000 == 9999 {
			_ = p.Flush(ctx, "x1")
			bus.mu.Lock()
			bus.calls = bus.calls[:0]
			bus.mu.Unlock()
		}
	}
	_ = p.Flush(ctx, "x1")
}

// A lost event's log line joins its request's lines: request_id and execution_id,
// each once.
func TestPublisher_LostEventLineCarriesTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	p := newPublisher(t, &fakeBus{down: true}, func(o *events.PublisherOptions) {
		o.Attempts, o.Logger = 1, slog.New(slog.NewJSONHandler(&buf, nil))
	})
	e := trail(1, events.ExecutionFailed)[0]
	e.RequestID = "req-42"
	p.Emit(context.Background(), e)
	_ = p.Flush(context.Background(), "x1")
	line := buf.String()
	if !strings.Contains(line, `"msg":"event not delivered"`) || strings.Count(line, `"request_id":"req-42"`) != 1 ||
		strings.Count(line, `"execution_id"`) != 1 {
		t.Fatalf("log %s", line)
	}
}

// asRun is evs as the events of execution id (ids made unique per run).
func asRun(evs []events.Event, id string) []events.Event {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		e.ExecutionID, e.ID = id, id+"-"+e.ID
		out[i] = e
	}
	return out
}

// runBus passes PutEvents to next, except calls carrying an entry of execution
// held (which wait for release, or for their context) or failing (refused).
type runBus struct {
	next             events.PutEventsAPI
	held, failing    string
	release, entered chan struct{}
}

func (b *runBus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	for _, e := range in.Entries {
		switch {
		case b.held != "" && strings.Contains(*e.Detail, `"execution_id":"`+b.held+`"`):
			b.entered <- struct{}{}
			select {
			case <-b.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return b.next.PutEvents(ctx, in, opts...)
		case b.failing != "" && strings.Contains(*e.Detail, `"execution_id":"`+b.failing+`"`):
			return nil, errors.New("dial tcp: connection refused")
		}
	}
	return b.next.PutEvents(ctx, in, opts...)
}

// One run's batch held at the bus and another's failing for good: a third run's
// Flush neither waits for the first nor reports the second's losses, and each run
// hears of its own losses only.
func TestPublisher_FlushWaitsOnlyForItsOwnRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fake := &fakeBus{}
	bus := &runBus{next: fake, held: "slow", failing: "bad", release: make(chan struct{}), entered: make(chan struct{}, 1)}
	var saved []string
	var mu sync.Mutex
	p := newPublisher(t, bus, func(o *events.PublisherOptions) {
		o.Attempts = 2
		o.Fallback = func(_ context.Context, e events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			saved = append(saved, e.ExecutionID)
			return nil
		}
	})
	for _, e := range asRun(trail(11, events.ExecutionCompleted), "slow") { // 12: a full batch goes at once
		p.Emit(ctx, e)
	}
	select {
	case <-bus.entered:
	case <-ctx.Done():
		t.Fatal("the slow run's full batch never reached the bus")
	}
	for _, e := range asRun(trail(3, events.ExecutionFailed), "bad") {
		p.Emit(ctx, e)
	}
	good := asRun(trail(4, events.ExecutionCompleted), "good")
	for _, e := range good {
		p.Emit(ctx, e)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(ctx, "good") }()
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatalf("good run's Flush = %v, want nil (another run's loss is not its own)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("good run's Flush waited for another run's batch")
	}
	if got := fake.detailTypes(); len(got) != 1 || len(got[0]) != len(good) {
		t.Fatalf("bus got %v, want one call with the good run's %d events", got, len(good))
	}

	var de *events.DeliveryError
	if err := p.Flush(ctx, "bad"); !errors.As(err, &de) || de.Lost != 4 || de.Saved != 1 {
		t.Fatalf("bad run's Flush = %v, want 4 lost, the terminal one saved", err)
	}
	if len(saved) != 1 || saved[0] != "bad" {
		t.Fatalf("fallback saw %v, want the bad run's terminal event only", saved)
	}

	slow := make(chan error, 1)
	go func() { slow <- p.Flush(ctx, "slow") }()
	select {
	case err := <-slow:
		t.Fatalf("slow run's Flush returned %v with its batch still held", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(bus.release)
	if err := <-slow; err != nil {
		t.Fatalf("slow run's Flush = %v", err)
	}
	sent := 0
	for _, c := range fake.detailTypes() {
		sent += len(c)
	}
	if sent != len(good)+12 {
		t.Fatalf("bus got %d events, want %d", sent, len(good)+12)
	}
}

// Many runs at once, each flushing its own: every event arrives once, in batches
// of one run each, and no run's Flush reports anything.
func TestPublisher_ConcurrentRunsFlushTheirOwn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bus := &fakeBus{}
	p := newPublisher(t, bus, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for r := range 16 {
		wg.Go(func() {
			id := fmt.Sprintf("run%02d", r)
			for _, e := range asRun(trail(r, events.ExecutionCompleted), id) {
				p.Emit(ctx, e)
			}
			errs <- p.Flush(ctx, id)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, c := range bus.calls {
		runs := map[string]bool{}
		for _, e := range c {
			var d struct {
				ID  string `json:"id"`
				Run string `json:"execution_id"`
			}
			if err := json.Unmarshal([]byte(*e.Detail), &d); err != nil {
				t.Fatal(err)
			}
			if seen[d.ID] {
				t.Fatalf("%s sent twice", d.ID)
			}
			seen[d.ID], runs[d.Run] = true, true
		}
		if len(runs) != 1 || len(c) > events.MaxBatchEntries {
			t.Fatalf("a call of %d entries carried runs %v", len(c), runs)
		}
	}
	// Run r has r node events and a terminal one: the sum over r of r+1.
	if want := 16 * 17 / 2; len(seen) != want {
		t.Fatalf("%d events arrived, want %d", len(seen), want)
	}
}
