package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/chatterhq/chatter/internal/text"
)

// PutEvents limits (EventBridge quotas).
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 256 * 1024
)

// PutEventsAPI is the part of the EventBridge client the publisher calls.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// PublisherOptions configure a Publisher. Client and BusName are required.
type PublisherOptions struct {
	Client  PutEventsAPI
	BusName string
	// Attempts bounds the PutEvents calls for one entry; default 4.
	Attempts int
	// Backoff is the first wait before a retry, doubled each retry up to MaxBackoff,
	// with jitter; defaults 50ms and 1s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Fallback is called with a terminal event whose delivery failed after every
	// attempt, so the execution's final state can be written by other means. Its
	// error is part of Flush's error.
	Fallback func(ctx context.Context, e Event) error
	Logger   *slog.Logger
	// Sleep waits between attempts; tests replace it. Default: a timer that stops
	// early when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Publisher sends events to an EventBridge bus. Emit only encodes and buffers; a
// full batch is sent by one goroutine at a time while the run goes on, and Flush
// sends the rest and waits. Nothing runs between Flushes that a frozen Lambda
// would lose: Flush returns only once every buffered event is sent or given up.
//
// One Publisher may serve concurrent executions: each has its own buffer, batches
// and losses, so a run's Flush sends and waits for that run's events only, and a
// slow or failing batch of one run neither delays nor blames another.
type Publisher struct {
	o PublisherOptions

	mu   sync.Mutex
	runs map[string]*runBuffer // by execution id; dropped by the run's Flush
}

// runBuffer is one execution's share of a Publisher, guarded by Publisher.mu.
type runBuffer struct {
	buf     []pending
	sending chan struct{} // closed when the background sender stops; nil when idle
	errs    []error       // losses of background sends, reported by the run's next Flush
}

// pending is an encoded entry and the event it carries (for the fallback and logs).
type pending struct {
	entry types.PutEventsRequestEntry
	size  int
	event Event
}

// NewPublisher returns a Publisher.
func NewPublisher(o PublisherOptions) (*Publisher, error) {
	if o.Client == nil || o.BusName == "" {
		return nil, errors.New("events: a PutEvents client and a bus name are required")
	}
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 50 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return &Publisher{o: o, runs: map[string]*runBuffer{}}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DeliveryError reports events that could not be delivered after every attempt.
type DeliveryError struct {
	Lost  int   // events not delivered
	Saved int   // terminal events among them whose Fallback succeeded
	Err   error // the last PutEvents or entry error, and any Fallback errors
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("events: %d not delivered (%d terminal saved by fallback): %v", e.Lost, e.Saved, e.Err)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Emit encodes e and buffers it with its execution's events. It never waits for
// the network: when a full batch of the execution is buffered and none of its
// sends is in flight, a goroutine sends it.
func (p *Publisher) Emit(ctx context.Context, e Event) {
	pd, err := p.encode(e)
	if err != nil {
		// An event that cannot be encoded is a bug in its data; losing it must not
		// stop the run.
		p.o.Logger.Error("event not encodable", "request_id", e.RequestID, "execution_id", e.ExecutionID, "event_type", e.Type, "seq", e.Seq, "err", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.runs[e.ExecutionID]
	if r == nil {
		r = &runBuffer{}
		p.runs[e.ExecutionID] = r
	}
	r.buf = append(r.buf, pd)
	if r.sending == nil && len(r.buf) >= MaxBatchEntries {
		done := make(chan struct{})
		r.sending = done
		go p.sendFull(context.WithoutCancel(ctx), r, done)
	}
}

// sendFull sends r's full batches until fewer than a batch remain; the rest waits
// for more events or for the run's Flush.
func (p *Publisher) sendFull(ctx context.Context, r *runBuffer, done chan struct{}) {
	defer close(done)
	for {
		p.mu.Lock()
		n := batchLen(r.buf)
		if n < MaxBatchEntries && n == len(r.buf) {
			// Not full: sending now would cost an extra call per execution.
			r.sending = nil
			p.mu.Unlock()
			return
		}
		batch := r.buf[:n:n]
		r.buf = r.buf[n:]
		p.mu.Unlock()
		if err := p.deliver(ctx, batch); err != nil {
			p.mu.Lock()
			r.errs = append(r.errs, err)
			p.mu.Unlock()
		}
	}
}

// Flush sends every buffered event of the execution executionID and waits for its
// sends in flight; other executions' events stay buffered and their sends are not
// waited for. It returns a *DeliveryError when events of this execution were lost
// since its previous Flush.
func (p *Publisher) Flush(ctx context.Context, executionID string) error {
	var r *runBuffer
	for {
		p.mu.Lock()
		r = p.runs[executionID]
		if r == nil {
			p.mu.Unlock()
			return nil
		}
		done := r.sending
		if done == nil {
			break // still holding mu
		}
		p.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("events: flush: %w", ctx.Err())
		}
	}
	// Idle and about to be emptied: an event emitted from now on starts a new buffer.
	delete(p.runs, executionID)
	rest, errs := r.buf, r.errs
	p.mu.Unlock()
	for len(rest) > 0 {
		n := batchLen(rest)
		if err := p.deliver(ctx, rest[:n]); err != nil {
			errs = append(errs, err)
		}
		rest = rest[n:]
	}
	return joinDelivery(errs)
}

// joinDelivery merges DeliveryErrors into one.
func joinDelivery(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	out := &DeliveryError{}
	var inner []error
	for _, err := range errs {
		var de *DeliveryError
		if errors.As(err, &de) {
			out.Lost += de.Lost
			out.Saved += de.Saved
			inner = append(inner, de.Err)
			continue
		}
		inner = append(inner, err)
	}
	out.Err = errors.Join(inner...)
	return out
}

// batchLen is how many leading entries of buf fit one PutEvents call.
func batchLen(buf []pending) int {
	size := 0
	for i, pd := range buf {
		if i == MaxBatchEntries || (i > 0 && size+pd.size > MaxBatchBytes) {
			return i
		}
		size += pd.size
	}
	return len(buf)
}

// deliver sends one batch, retrying only the entries that failed, and hands what
// is finally lost to lose.
func (p *Publisher) deliver(ctx context.Context, batch []pending) error {
	var lastErr error
	for attempt := 0; len(batch) > 0; attempt++ {
		if attempt > 0 {
			if attempt >= p.o.Attempts {
				break
			}
			if err := p.o.Sleep(ctx, p.backoff(attempt)); err != nil {
				lastErr = errors.Join(lastErr, err)
				break
			}
		}
		entries := make([]types.PutEventsRequestEntry, len(batch))
		for i := range batch {
			entries[i] = batch[i].entry
		}
		out, err := p.o.Client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			lastErr = fmt.Errorf("PutEvents: %w", err)
			continue
		}
		if out.FailedEntryCount == 0 {
			return nil
		}
		// Entries answer in request order; keep only the failed ones.
		failed := batch[:0:0]
		for i, r := range out.Entries {
			if i < len(batch) && r.ErrorCode != nil && *r.ErrorCode != "" {
				failed = append(failed, batch[i])
				lastErr = fmt.Errorf("PutEvents entry %s: %s: %s", batch[i].event.Type, *r.ErrorCode, aws.ToString(r.ErrorMessage))
			}
		}
		if len(failed) == 0 && len(out.Entries) < len(batch) {
			// A malformed answer: no way to tell which failed, so send them all again.
			failed = batch
			lastErr = fmt.Errorf("PutEvents: %d failed entries, %d results for %d entries", out.FailedEntryCount, len(out.Entries), len(batch))
		}
		batch = failed
	}
	if len(batch) == 0 {
		return nil
	}
	return p.lose(ctx, batch, lastErr)
}

// lose records undeliverable events: a terminal one goes to the fallback, the
// others are logged one line each, so the loss is visible per execution.
func (p *Publisher) lose(ctx context.Context, lost []pending, cause error) error {
	de := &DeliveryError{Lost: len(lost), Err: cause}
	for _, pd := range lost {
		e := pd.event
		if e.Terminal() && p.o.Fallback != nil {
			if err := p.o.Fallback(ctx, e); err != nil {
				de.Err = errors.Join(de.Err, fmt.Errorf("fallback for %s of execution %s: %w", e.Type, e.ExecutionID, err))
				continue
			}
			de.Saved++
			continue
		}
		p.o.Logger.Warn("event not delivered", "request_id", e.RequestID, "execution_id", e.ExecutionID, "event_id", e.ID,
			"event_type", e.Type, "seq", e.Seq, "err", cause)
	}
	return de
}

// backoff is the jittered wait before retry n (n >= 1): uniform in [d/2, d].
func (p *Publisher) backoff(n int) time.Duration {
	d := p.o.Backoff << (n - 1)
	if d > p.o.MaxBackoff || d <= 0 {
		d = p.o.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// entryOverhead is what EventBridge counts for an entry besides detail, source and
// detail type: the 14 bytes of Time.
const entryOverhead = 14

// encode builds the PutEvents entry of e. A terminal event too large for one entry
// loses the tail of its output, which then ends with text.Marker (the reply is
// stored with the message anyway).
func (p *Publisher) encode(e Event) (pending, error) {
	detail, err := json.Marshal(e)
	if err != nil {
		return pending{}, err
	}
	size := entryOverhead + len(Source) + len(e.Type) + len(detail)
	for size > MaxBatchBytes {
		end, ok := e.EndData()
		if !ok || end.Output == "" {
			return pending{}, fmt.Errorf("event is %d bytes, over the %d limit", size, MaxBatchBytes)
		}
		// JSON escaping can make the output several times longer than its bytes, so
		// cut in proportion and measure again.
		keep := int(float64(len(end.Output)) * float64(MaxBatchBytes-1024) / float64(size))
		end.Output = text.Shorten(end.Output, min(keep, len(end.Output)-1))
		e.Data = end
		if detail, err = json.Marshal(e); err != nil {
			return pending{}, err
		}
		size = entryOverhead + len(Source) + len(e.Type) + len(detail)
	}
	entry := types.PutEventsRequestEntry{
		EventBusName: aws.String(p.o.BusName),
		Source:       aws.String(Source),
		DetailType:   aws.String(e.Type),
		Detail:       aws.String(string(detail)),
	}
	if !e.Time.IsZero() {
		entry.Time = aws.Time(e.Time)
	}
	return pending{size: size, event: e, entry: entry}, nil
}
