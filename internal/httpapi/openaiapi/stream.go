package openaiapi

import (
	"net/http"
	"time"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// stream runs req and answers as OpenAI streams: a chunk with the assistant role
// when the run starts, one per text delta, one with the finish reason, then (with
// stream_options.include_usage) one with empty choices and the usage, then
// "data: [DONE]". An error before the first chunk is an error answer; after it,
// a data frame {"error": {...}} (as OpenAI's streams carry errors) then [DONE].
// The run's context is the request's: a client that goes away cancels it.
func stream(d Deps, w http.ResponseWriter, r *http.Request, req executor.Request, b *wire.ChatCompletionRequest) {
	sse := httpcore.NewSSE(w, d.Heartbeat)
	sink := &chunkSink{sse: sse, w: w, now: d.now, model: b.Model}
	res, err := d.Executor.Execute(r.Context(), req, sink)
	if res != nil {
		httpcore.LogWith(r.Context(), "execution_id", res.ExecutionID)
	}
	if err != nil && !sse.Started() {
		named(w, r, res)
		httpapi.Fail(w, r, problem(err, res, b.Model))
		return
	}
	if err != nil {
		p := chatProblem(r, err, res)
		if errcode.Of(p.Code).Internal {
			httpcore.Logger(r.Context()).Error("stream failed", "code", p.Code, "err", err)
		}
		_, body := wire.OpenAIErrorOf(p)
		_ = sse.Data(body)
		_ = sse.Close()
		return
	}
	finish := finishReason(res.FinishReason)
	_ = sink.send(wire.ChunkDelta{}, &finish)
	if b.StreamOptions != nil && b.StreamOptions.IncludeUsage {
		c := sink.chunk()
		c.Choices, c.Usage = []wire.ChunkChoice{}, usage(res)
		_ = sse.Data(c)
	}
	_ = sse.Close() // a write error here means the client left; the run is over anyway
}

// chatProblem is the problem body of a run's error, as Fail would write it.
func chatProblem(r *http.Request, err error, res *executor.Result) *httpcore.Problem {
	return httpapi.ProblemOf(r, problem(err, res, ""))
}

// chunkSink turns the executor's chunks into OpenAI chunks: the start chunk
// names the run (headers, the completion id), token chunks are the deltas; the
// others are chatter's own detail, left out. A write error (the client went away)
// goes back to the executor, which cancels the run.
type chunkSink struct {
	sse     *httpcore.SSE
	w       http.ResponseWriter
	now     func() time.Time
	model   string
	id      string
	created int64
}

func (s *chunkSink) Send(c wire.Chunk) error {
	switch c.Type {
	case wire.ChunkStart:
		s.id, s.created = completionID(c.ExecutionID), s.now().Unix()
		h := s.w.Header()
		h.Set(HeaderExecutionID, c.ExecutionID)
		h.Set(HeaderConversationID, c.ConversationID)
		empty := ""
		return s.send(wire.ChunkDelta{Role: "assistant", Content: &empty}, nil)
	case wire.ChunkToken:
		if c.Content == "" {
			return nil
		}
		text := c.Content
		return s.send(wire.ChunkDelta{Content: &text}, nil)
	}
	return nil
}

func (s *chunkSink) chunk() wire.ChatCompletionChunk {
	return wire.ChatCompletionChunk{ID: s.id, Object: wire.ObjectChatCompletionChunk, Created: s.created, Model: s.model}
}

func (s *chunkSink) send(d wire.ChunkDelta, finish *string) error {
	c := s.chunk()
	c.Choices = []wire.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}
	return s.sse.Data(c)
}
