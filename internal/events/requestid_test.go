package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/events"
)

// The request id travels in the event detail through EventBridge's envelope, so
// the subscriber's log line joins the request's: each id exactly once, and no
// content.
func TestSubscriberLogger_LinesCarryRequestExecutionAndUserIDOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out bytes.Buffer
	sub := events.Subscriber(events.Logger(slog.New(slog.NewJSONHandler(&out, nil))), slog.New(slog.DiscardHandler))
	evs := oneOfEach()
	for _, e := range evs {
		e.RequestID = "req-42"
		detail, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		env := events.Envelope{ID: "env-" + e.ID, Source: events.Source, DetailType: e.Type, Detail: detail, Time: e.Time}
		if err := sub(ctx, env); err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(evs) {
		t.Fatalf("%d lines for %d events:\n%s", len(lines), len(evs), &out)
	}
	for i, line := range lines {
		for _, want := range []string{`"request_id":"req-42"`, `"execution_id":"` + evs[i].ExecutionID + `"`, `"user_id":"` + evs[i].UserID + `"`} {
			if strings.Count(line, want) != 1 {
				t.Errorf("line %d lacks %s exactly once: %s", i, want, line)
			}
		}
		for _, k := range []string{`"request_id":`, `"execution_id":`, `"user_id":`} {
			if n := strings.Count(line, k); n != 1 {
				t.Errorf("line %d: %s %d times: %s", i, k, n, line)
			}
		}
	}
	if strings.Contains(out.String(), secret) {
		t.Errorf("subscriber lines carry content:\n%s", &out)
	}
}
