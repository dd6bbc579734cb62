package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/requestid"
)

func TestRequestIDMiddleware_IDTravelsToTheRunsEvents(t *testing.T) {
	var got string
	h := httpcore.RequestIDMiddleware(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = requestid.From(r.Context())
	}))
	req := httptest.NewRequest("POST", "/api/v1/workflows/execute/chat", nil)
	req.Header.Set(httpcore.HeaderRequestID, "rid-9")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got != "rid-9" || rec.Header().Get(httpcore.HeaderRequestID) != "rid-9" {
		t.Fatalf("context request id %q, header %q; want rid-9", got, rec.Header().Get(httpcore.HeaderRequestID))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if len(got) != 26 {
		t.Fatalf("generated request id %q is not a ULID", got)
	}
}
