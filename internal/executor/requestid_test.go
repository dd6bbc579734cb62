package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/requestid"
)

func TestExecute_EveryEventCarriesTheRequestID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := newHarness(t, nil)
	res, err := h.x.Execute(requestid.With(ctx, "req-7"), template("general_chat", "hello"), nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := h.eventsOf(res.ExecutionID)
	if len(evs) < 3 {
		t.Fatalf("%d events", len(evs))
	}
	for _, e := range evs {
		if e.RequestID != "req-7" {
			t.Errorf("%s #%d: request_id %q, want req-7", e.Type, e.Seq, e.RequestID)
		}
	}
	// A run outside a request has none (nothing made up).
	res, err = h.x.Execute(ctx, template("general_chat", "hello again"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.eventsOf(res.ExecutionID) {
		if e.RequestID != "" {
			t.Errorf("%s: request_id %q outside a request", e.Type, e.RequestID)
		}
	}
}
