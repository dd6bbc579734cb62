package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	chatter "github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/devstack"
	"github.com/chatterhq/chatter/internal/events"
	"github.com/chatterhq/chatter/internal/events/record"
	"github.com/chatterhq/chatter/internal/events/subscriber"
	"github.com/chatterhq/chatter/internal/store"
)

func TestRules_ReadsEverySubscriberRuleFromTheTemplate(t *testing.T) {
	rules, err := devstack.Rules(chatter.TemplateYAML, devstack.Refs{devstack.DocumentsBucketRef: "docs-bucket"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string][]string{}
	var ingest string
	for _, r := range rules {
		if r.MaxReceives != devstack.MaxReceives {
			t.Errorf("%s: local queue hands a message out %d times, want the template's 5", r.Subscriber, r.MaxReceives)
		}
		if r.Subscriber == "documents-ingest" {
			ingest = r.Pattern
			continue
		}
		var p map[string][]string
		if err := json.Unmarshal([]byte(r.Pattern), &p); err != nil {
			t.Fatalf("%s pattern %s: %v", r.Subscriber, r.Pattern, err)
		}
		got[r.Subscriber] = p
	}
	if len(got) != 2 || got["on-event-record"] == nil || got["on-event-metrics"] == nil {
		t.Fatalf("subscribers = %v, want on-event-record and on-event-metrics", got)
	}
	// The ingest's rule takes S3's Object Created of the documents bucket, its
	// !Ref resolved to the local bucket.
	want := `{"detail":{"bucket":{"name":["docs-bucket"]},"object":{"key":[{"prefix":"documents/"}]}},"detail-type":["Object Created"],"source":["aws.s3"]}`
	if ingest != want {
		t.Errorf("ingest pattern = %s, want %s", ingest, want)
	}
	for name, p := range got {
		if !slices.Equal(p["source"], []string{events.Source}) || len(p["detail-type"]) == 0 {
			t.Errorf("%s pattern = %v, want source %s and detail types", name, p, events.Source)
		}
	}
	if rec := slices.Sorted(slices.Values(got["on-event-record"]["detail-type"])); !slices.Equal(rec, slices.Sorted(slices.Values(events.Types))) {
		t.Errorf("record rule matches %v, want every event type %v", rec, events.Types)
	}
}

func TestRules_RejectsBrokenTemplates(t *testing.T) {
	for name, tpl := range map[string]string{
		"not yaml":                "Resources: [",
		"rule not <Name>Function": "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E:\n          Type: EventBridgeRule\n          Properties:\n            Pattern: {source: [x]}\n",
		"queue with no redrive":   "Resources:\n  FFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        Q:\n          Type: SQS\n          Properties: {Queue: !GetAtt Q.Arn}\n  Q:\n    Type: AWS::SQS::Queue\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n      Targets: [{Id: q, Arn: !GetAtt Q.Arn}]\n",
		"rule with no ptrn":       "Resources:\n  FFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n      Events:\n        E:\n          Type: EventBridgeRule\n          Properties: {}\n",
	} {
		if _, err := devstack.Rules([]byte(tpl), nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestEvents_ToolRunRecordedThroughBusRuleQueueAndSubscriber(t *testing.T) {
	s := newStack(t, nil)
	res, err := s.x.Execute(context.Background(), chat("code_assistant", `/tool calculator {"expression":"2+3"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	emitted := s.emit.rec.Events()
	s.deliverUntil(t, "on-event-record", ids(emitted, nil), subscriber.Record(s.repo, quiet))

	x, err := s.repo.GetExecution(context.Background(), "u1", res.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != store.ExecCompleted || x.Usage.InputTokens != res.Usage.InputTokens || x.Usage.OutputTokens != res.Usage.OutputTokens ||
		x.Usage.Total() == 0 || x.Cost != res.Cost.USD || x.CostKnown != res.Cost.Known || x.ToolCalls != 1 || x.Steps != res.Steps {
		t.Fatalf("record = %+v\nresult usage %+v cost %+v steps %d", x, res.Usage, res.Cost, res.Steps)
	}
	log := eventLog(t, s.repo, res.ExecutionID)
	if len(log) != len(emitted) {
		t.Fatalf("log has %d events, %d were emitted", len(log), len(emitted))
	}
	for i := range log {
		if log[i].Seq != i+1 || log[i].ID != emitted[i].ID || log[i].Type != emitted[i].Type {
			t.Errorf("log[%d] = seq %d %s, want seq %d %s", i, log[i].Seq, log[i].Type, i+1, emitted[i].Type)
		}
	}
	if !slices.ContainsFunc(log, func(e store.ExecutionEvent) bool { return e.Type == events.ToolCalled }) {
		t.Error("log lacks tool_called")
	}
	if n := s.puts.calls.Load(); n > 3 {
		t.Errorf("%d PutEvents calls for one execution, want at most 3", n)
	}
}

func TestEvents_FailedRunRecordedWithItsErrorCode(t *testing.T) {
	s := newStack(t, nil)
	res, err := s.x.Execute(context.Background(), chat("general_chat", "/fail invalid_request"), nil)
	if err == nil || res == nil || res.Error == nil {
		t.Fatalf("Execute = %+v, %v; want a failed run", res, err)
	}
	s.deliverUntil(t, "on-event-record", ids(s.emit.rec.Events(), nil), subscriber.Record(s.repo, quiet))
	x, err := s.repo.GetExecution(context.Background(), "u1", res.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != store.ExecFailed || x.ErrorCode != errcode.LLM || x.ErrorCode != res.Error.Code {
		t.Fatalf("record = %+v, want failed with %s", x, errcode.LLM)
	}
}

func TestEvents_MetricsSubscriberGetsOnlyItsEventTypes(t *testing.T) {
	s := newStack(t, nil)
	if _, err := s.x.Execute(context.Background(), chat("code_assistant", `/tool calculator {"expression":"2+3"}`), nil); err != nil {
		t.Fatal(err)
	}
	emitted := s.emit.rec.Events()
	var out bytes.Buffer
	want := ids(emitted, func(e events.Event) bool { _, ok := events.MetricsFor(e); return ok })
	got := s.deliverUntil(t, "on-event-metrics", want, each(events.Subscriber(events.Metrics{}.Writer(&out), quiet)))
	if len(got) != len(want) {
		t.Errorf("metrics queue carried %d events, want the %d with metrics", len(got), len(want))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	names := map[string]bool{}
	for _, l := range lines {
		var doc map[string]any
		if err := json.Unmarshal([]byte(l), &doc); err != nil || doc["_aws"] == nil {
			t.Fatalf("not an EMF line: %s", l)
		}
		for _, d := range doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
			for _, m := range d.(map[string]any)["Metrics"].([]any) {
				names[m.(map[string]any)["Name"].(string)] = true
			}
		}
	}
	for _, n := range []string{"ExecutionCount", "ExecutionFailed", "ExecutionCancelled", "ExecutionTimeMs", "TokensUsed", "ToolCalls", "NodeDurationMs"} {
		if !names[n] {
			t.Errorf("no %s metric in %d lines", n, len(lines))
		}
	}
}

// TestEvents_RedeliveredAndReversedGiveTheSameRecordAndMetrics replays the
// envelopes that came through the queue: once in order, and each twice in reverse.
func TestEvents_RedeliveredAndReversedGiveTheSameRecordAndMetrics(t *testing.T) {
	s := newStack(t, nil)
	res, err := s.x.Execute(context.Background(), chat("code_assistant", `/tool calculator {"expression":"2+3"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	envs := s.deliverUntil(t, "on-event-record", ids(s.emit.rec.Events(), nil), each(func(context.Context, events.Envelope) error { return nil }))
	slices.SortFunc(envs, func(a, b events.Envelope) int { return seqOf(t, a) - seqOf(t, b) })
	running, err := s.repo.GetExecution(context.Background(), "u1", res.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}

	replay := func(order []events.Envelope) (*store.Execution, []store.ExecutionEvent, []string) {
		mem := store.NewMemory()
		x := *running
		if err := mem.CreateExecution(context.Background(), &x); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		rec := events.Subscriber(record.Handler(mem), quiet)
		met := events.Subscriber(events.Metrics{}.Writer(&out), quiet)
		for _, env := range order {
			if err := rec(context.Background(), env); err != nil {
				t.Fatal(err)
			}
			if err := met(context.Background(), env); err != nil {
				t.Fatal(err)
			}
		}
		got, err := mem.GetExecution(context.Background(), "u1", res.ExecutionID)
		if err != nil {
			t.Fatal(err)
		}
		// CloudWatch would count a repeated line twice; what must not differ is
		// the set of lines, each keyed by its event_id.
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		slices.Sort(lines)
		return got, eventLog(t, mem, res.ExecutionID), slices.Compact(lines)
	}
	wantX, wantLog, wantLines := replay(envs)
	if wantX.Status != store.ExecCompleted || len(wantLog) != len(envs) {
		t.Fatalf("in-order replay: %+v, %d log entries", wantX, len(wantLog))
	}
	twiceReversed := slices.Clone(envs)
	slices.Reverse(twiceReversed)
	twiceReversed = append(twiceReversed, twiceReversed...)
	gotX, gotLog, gotLines := replay(twiceReversed)
	if !reflect.DeepEqual(wantX, gotX) {
		t.Errorf("record differs:\n got %+v\nwant %+v", gotX, wantX)
	}
	if !reflect.DeepEqual(wantLog, gotLog) {
		t.Errorf("log differs:\n got %+v\nwant %+v", gotLog, wantLog)
	}
	if !slices.Equal(wantLines, gotLines) {
		t.Errorf("EMF lines differ:\n got %q\nwant %q", gotLines, wantLines)
	}
}

func TestEvents_BusDownTerminalStateLandsThroughFallback(t *testing.T) {
	s := newStack(t, func(cfg aws.Config) events.PutEventsAPI {
		return eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
			o.BaseEndpoint = aws.String("http://127.0.0.1:1") // nothing listens there
			o.RetryMaxAttempts = 1
		})
	})
	res, err := s.x.Execute(context.Background(), chat("code_assistant", `/tool calculator {"expression":"2+3"}`), nil)
	if err != nil {
		t.Fatalf("Execute = %v; the user must still get the answer", err)
	}
	if res.Response == "" {
		t.Fatal("no answer")
	}
	x, err := s.repo.GetExecution(context.Background(), "u1", res.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != store.ExecCompleted || x.ToolCalls != 1 || x.Usage.Total() != res.Usage.Total() || x.Cost != res.Cost.USD {
		t.Fatalf("record = %+v, want completed with the run's totals", x)
	}
	log := eventLog(t, s.repo, res.ExecutionID)
	if len(log) != 1 || log[0].Type != events.ExecutionCompleted {
		t.Fatalf("log = %+v, want only the terminal event (the others were lost and logged)", log)
	}
	if s.puts.calls.Load() < 2 {
		t.Errorf("%d PutEvents calls, want the batch retried", s.puts.calls.Load())
	}
}

func seqOf(t *testing.T, env events.Envelope) int {
	e, err := events.Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	return e.Seq
}

func eventLog(t *testing.T, repo repo, execID string) []store.ExecutionEvent {
	t.Helper()
	page, err := repo.ListEvents(context.Background(), "u1", execID, store.PageRequest{Limit: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if page.Next != "" {
		t.Fatal("more than one page of events")
	}
	return page.Items
}
