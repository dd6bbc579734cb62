package chat

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// PathExecutionStream resumes a streaming run started with on_disconnect
// continue: GET with Last-Event-ID (the header, or ?last_event_id=; none or 0
// replays from the start) answers the run's kept frames after that id — the same
// SSE frames, with the same ids, as the original stream — then follows the live
// run to its end (executor.Follow: at most one read a second), then "data:
// [DONE]". It never starts a run; a finished run replays only. Another user's
// execution is a 404; one that kept no frames (a standard run, or on_disconnect
// cancel) a 409 saying so. It is mounted beside the streaming routes (chat-stream's
// Function URL, the dev stack): API Gateway buffers responses, so following a live
// run needs the Function URL.
const PathExecutionStream = "GET /api/v1/executions/{id}/stream"

// ResumeStream serves PathExecutionStream.
func ResumeStream(x *executor.Executor, opts ...Option) http.Handler {
	c := newConfig(opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !store.ValidID(id) {
			httpapi.Fail(w, r, invalid("id", "id is not a valid execution id"))
			return
		}
		after, err := lastEventID(r)
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		sse := httpcore.NewSSE(w, c.heartbeat)
		err = x.Follow(r.Context(), httpcore.UserID(r.Context()), id, after, func(f store.Frame) error {
			return sse.Event(f.Seq, f.Type, json.RawMessage(f.Data))
		})
		if err != nil && !sse.Started() {
			httpapi.Fail(w, r, err)
			return
		}
		if err != nil && r.Context().Err() == nil {
			httpcore.Logger(r.Context()).Info("resumed stream ended early", "execution_id", id, "err", err)
		}
		_ = sse.Close()
	})
}

// lastEventID reads Last-Event-ID, else ?last_event_id; absent is 0.
func lastEventID(r *http.Request) (int, error) {
	field, v := "Last-Event-ID", strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		field, v = "last_event_id", r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, httpcore.FieldErr(errcode.InvalidInput, field, field+" must be a frame id: a whole number from 0")
	}
	return n, nil
}

// PathExecutionResume continues a run waiting at a human node with a person's
// input (wire.ResumeRequest): in a new invocation, standard (the ChatResponse of
// the turn, as the chat route answers) or streaming (?stream=true or Accept:
// text/event-stream; frames numbered on from the first invocation's), with the
// same execution id. Another user's execution is a 404, one that is not waiting a
// 409, an input the node does not take (an action for text input, an empty text,
// an action other than approve or reject) a 422 naming the field; the run stays
// waiting after a 422.
const PathExecutionResume = "POST /api/v1/executions/{id}/resume"

// Resume serves PathExecutionResume.
func Resume(x *executor.Executor, opts ...Option) http.Handler {
	c := newConfig(opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body wire.ResumeRequest
		if err := httpcore.Decode(r, &body); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		stream := httpcore.WantsStream(r)
		rr := executor.ResumeRequest{UserID: httpcore.UserID(r.Context()), ExecutionID: r.PathValue("id"),
			Input: executor.HumanInput{Action: body.Action, Text: body.Text}, Mode: mode(stream),
			Idempotency: httpapi.IdempotencyOf(r.Context()), OnDisconnect: body.OnDisconnect}
		c.serve(w, r, stream, func(ctx context.Context, sink executor.Sink) (*executor.Result, error) {
			return x.Resume(ctx, rr, sink)
		}, func(res *executor.Result) any { return res.ChatResponse() })
	})
}
