package devstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	chatter "github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/devstack"
	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/llm/devllm"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// each delivers a batch message by message to a handler of one envelope.
func each(h func(context.Context, events.Envelope) error) devstack.Handler {
	return events.EachMessage(h, quiet)
}

// countingBus counts PutEvents calls on its way to the real client.
type countingBus struct {
	events.PutEventsAPI
	calls atomic.Int64
}

func (c *countingBus) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	c.calls.Add(1)
	return c.PutEventsAPI.PutEvents(ctx, in, opts...)
}

// mirror is the executor's store; it also creates the running execution in the
// subscriber's repo, as the shared table would. The repo's record then reaches its
// terminal state only through events (or the fallback), which is what is tested.
type mirror struct {
	*store.Memory
	repo repo
}

// repo is the subscriber's table: the DynamoDB store on moto.
type repo interface {
	record.Repo
	CreateExecution(ctx context.Context, e *store.Execution) error
	GetExecution(ctx context.Context, userID, id string) (*store.Execution, error)
	ListEvents(ctx context.Context, userID, execID string, p store.PageRequest) (store.Page[store.ExecutionEvent], error)
}

func dynamoRepo(t *testing.T, cfg aws.Config) repo {
	t.Helper()
	db := dynamodb.NewFromConfig(cfg)
	if err := dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, "devstack-test"); err != nil {
		t.Fatal(err)
	}
	return dynamo.New(db, "devstack-test", dynamo.Options{})
}

func (m mirror) StartTurn(ctx context.Context, t store.StartTurn) error {
	if err := m.Memory.StartTurn(ctx, t); err != nil {
		return err
	}
	x := *t.Execution
	return m.repo.CreateExecution(ctx, &x)
}

// tee hands events to the publisher and keeps a copy, so a test knows what to
// expect at the other end.
type tee struct {
	*events.Publisher
	rec events.Recorder
}

func (t *tee) Emit(ctx context.Context, e events.Event) {
	t.rec.Emit(ctx, e)
	t.Publisher.Emit(ctx, e)
}

// stack is one executor publishing to a provisioned bus, with the record
// subscriber's repo.
type stack struct {
	cfg    aws.Config
	bus    string
	queues map[string]string
	x      *executor.Executor
	emit   *tee
	puts   *countingBus
	repo   repo
}

var busSeq atomic.Int64

func newStack(t *testing.T, client func(aws.Config) events.PutEventsAPI) *stack {
	t.Helper()
	s := &stack{cfg: testenv.AWSConfig(t)}
	s.repo = dynamoRepo(t, s.cfg)
	s.bus = fmt.Sprintf("chatter-test-%d", busSeq.Add(1))
	queues, err := devstack.ProvisionEvents(context.Background(), s.cfg, s.bus, devstack.Refs{devstack.DocumentsBucketRef: s.bus + "-docs"})
	if err != nil {
		t.Fatal(err)
	}
	s.queues = queues
	if client == nil {
		client = func(cfg aws.Config) events.PutEventsAPI { return eventbridge.NewFromConfig(cfg) }
	}
	s.puts = &countingBus{PutEventsAPI: client(s.cfg)}
	pub, err := events.NewPublisher(events.PublisherOptions{Client: s.puts, BusName: s.bus, Logger: quiet,
		Backoff: time.Millisecond, Attempts: 2, Fallback: record.Handler(s.repo)})
	if err != nil {
		t.Fatal(err)
	}
	s.emit = &tee{Publisher: pub}
	s.x, err = executor.New(executor.Options{Store: mirror{Memory: store.NewMemory(), repo: s.repo}, Emitter: s.emit,
		Providers: []llm.Provider{devllm.New(devllm.Options{})}, Logger: quiet, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func chat(template, message string) executor.Request {
	return executor.Request{Source: executor.Source{Kind: executor.SourceTemplate, ID: template},
		Input: executor.Input{Message: message, UserID: "u1"}}
}

// deliverUntil runs the delivery loop on a subscriber's queue until the handler has
// succeeded for every event id in want, and returns the envelopes it handled.
func (s *stack) deliverUntil(t *testing.T, subscriber string, want map[string]bool, h devstack.Handler) []events.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []events.Envelope
	seen := map[string]bool{}
	wrapped := func(ctx context.Context, batch awsevents.SQSEvent) (awsevents.SQSEventResponse, error) {
		resp, err := h(ctx, batch)
		if err != nil {
			return resp, err
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch.Records {
			if failed[m.MessageId] {
				continue
			}
			var env events.Envelope
			if err := json.Unmarshal([]byte(m.Body), &env); err != nil {
				t.Errorf("queue carried a message that is no envelope: %v", err)
				continue
			}
			e, err := events.Decode(env)
			if err != nil {
				t.Errorf("queue carried a foreign event: %v", err)
				continue
			}
			got = append(got, env)
			seen[e.ID] = true
		}
		if len(seen) == len(want) {
			cancel()
		}
		return resp, nil
	}
	if err := devstack.Deliver(ctx, sqsClient(s.cfg), s.queues[subscriber], wrapped); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("%s: %d of %d events arrived", subscriber, len(seen), len(want))
	}
	for id := range seen {
		if !want[id] {
			t.Errorf("%s got event %s that was not emitted by this run", subscriber, id)
		}
	}
	return got
}

func ids(evs []events.Event, keep func(events.Event) bool) map[string]bool {
	out := map[string]bool{}
	for _, e := range evs {
		if keep == nil || keep(e) {
			out[e.ID] = true
		}
	}
	return out
}

func sqsClient(cfg aws.Config) *sqs.Client { return sqs.NewFromConfig(cfg) }
