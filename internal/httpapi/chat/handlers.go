package chat

import (
	"context"
	"net/http"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/httpapi"
)

// Option configures the handlers.
type Option func(*config)

type config struct {
	heartbeat time.Duration
}

// WithHeartbeat sets the SSE ping interval (default httpcore.DefaultHeartbeat).
func WithHeartbeat(d time.Duration) Option { return func(c *config) { c.heartbeat = d } }

func newConfig(opts []Option) config {
	c := config{heartbeat: httpcore.DefaultHeartbeat}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Route paths.
const (
	PathChat               = "POST /api/v1/workflows/execute/chat"
	PathChatStream         = "POST /api/v1/workflows/execute/chat/streaming"
	PathTemplateExecute    = "POST /api/v1/workflows/templates/{id}/execute"
	PathTemplateInline     = "POST /api/v1/workflows/templates/execute"
	PathDefinitionExecute  = "POST /api/v1/workflows/definitions/{id}/execute"
	PathDefinitionInline   = "POST /api/v1/workflows/definitions/custom/execute"
	PathDefinitionInlineID = "custom" // the literal segment that wins over {id}
)

// Register mounts every execution route on rt. The chat routes are in the chat and
// stream rate classes; the execution routes pick by WantsStream.
func Register(rt *httpcore.Router, x *executor.Executor, opts ...Option) {
	for _, r := range Routes {
		rt.Mount(r.Pattern, r.Handler(x, opts...), r.Class)
	}
	// Resuming a stream is no run: it is served where streams are (the Function
	// URL, the dev stack), not by a Lambda of its own behind the buffering HTTP API.
	rt.Mount(PathExecutionStream, ResumeStream(x, opts...), httpcore.RateClass(httpcore.ClassStream))
}

// Route is one execution route: pattern, handler constructor and rate class. One
// Lambda per route mounts exactly one of Routes; Register mounts them all.
type Route struct {
	Pattern string
	Handler func(*executor.Executor, ...Option) http.Handler
	Class   httpcore.RouteOption
}

// Routes lists every execution route. Go 1.22 ServeMux: the literal "custom" of
// PathDefinitionInline is more specific than {id}, so it wins.
var Routes = []Route{
	{PathChat, Chat, httpcore.RateClass(httpcore.ClassChat)},
	{PathChatStream, Stream, httpcore.RateClass(httpcore.ClassStream)},
	{PathTemplateExecute, ExecuteTemplate, httpcore.RateClassBy(Class)},
	{PathTemplateInline, ExecuteTemplateInline, httpcore.RateClassBy(Class)},
	{PathDefinitionExecute, ExecuteDefinition, httpcore.RateClassBy(Class)},
	{PathDefinitionInline, ExecuteInline, httpcore.RateClassBy(Class)},
	{PathExecutionResume, Resume, httpcore.RateClassBy(Class)},
}

// Class is the rate class of an execution request: stream when it asks for SSE.
func Class(r *http.Request) httpcore.Class {
	if httpcore.WantsStream(r) {
		return httpcore.ClassStream
	}
	return httpcore.ClassChat
}

// Chat answers a chat request with one ChatResponse; with ?stream=true or Accept:
// text/event-stream it streams instead, like Stream.
func Chat(x *executor.Executor, opts ...Option) http.Handler {
	c := newConfig(opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.chat(x, w, r, httpcore.WantsStream(r))
	})
}

// Stream answers a chat request as an SSE stream.
func Stream(x *executor.Executor, opts ...Option) http.Handler {
	c := newConfig(opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.chat(x, w, r, true)
	})
}

func (c config) chat(x *executor.Executor, w http.ResponseWriter, r *http.Request, stream bool) {
	var body chatRequest
	if err := httpcore.Decode(r, &body); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	req, err := body.request(httpcore.UserID(r.Context()), mode(stream))
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	c.run(x, w, r, req, stream, func(res *executor.Result) any { return res.ChatResponse() })
}

// ExecuteTemplate runs the built-in or user template {id}.
func ExecuteTemplate(x *executor.Executor, opts ...Option) http.Handler {
	return newConfig(opts).execute(x, routeTemplate)
}

// ExecuteTemplateInline runs a template sent in the body (not saved).
func ExecuteTemplateInline(x *executor.Executor, opts ...Option) http.Handler {
	return newConfig(opts).execute(x, routeTemplateInline)
}

// ExecuteDefinition runs the stored definition {id} (?version in the body).
func ExecuteDefinition(x *executor.Executor, opts ...Option) http.Handler {
	return newConfig(opts).execute(x, routeDefinition)
}

// ExecuteInline runs nodes and edges sent in the body (not saved).
func ExecuteInline(x *executor.Executor, opts ...Option) http.Handler {
	return newConfig(opts).execute(x, routeInline)
}

func (c config) execute(x *executor.Executor, kind routeKind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body executeRequest
		if err := httpcore.Decode(r, &body); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		if kind == routeInline {
			if err := body.fromQuery(r.URL.Query()); err != nil {
				httpapi.Fail(w, r, err)
				return
			}
		}
		stream := httpcore.WantsStream(r)
		req, err := body.request(kind, r.PathValue("id"), httpcore.UserID(r.Context()), mode(stream))
		if err == nil && kind == routeInline {
			err = checkEntry(req.Source.Definition, r.URL.Query().Get("entry_point"))
		}
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		convert := func(res *executor.Result) any { return res.WorkflowExecutionResponse(body.DebugMode) }
		if kind == routeInline {
			convert = func(res *executor.Result) any { return res.InlineExecutionResponse(body.DebugMode) }
		}
		c.run(x, w, r, req, stream, convert)
	})
}

func mode(stream bool) executor.Mode {
	if stream {
		return executor.ModeStreaming
	}
	return executor.ModeStandard
}

// run executes req and answers in the requested mode. Standard: the converted
// Result, or a problem (a run that started and failed names its execution).
// Streaming: frames as they come; an error before the first frame is still a
// problem response, after it an error frame then [DONE]. The run's context is the
// request's, so a client that goes away cancels it even between frames — unless
// the body asked on_disconnect continue: then the run goes on, keeps its frames,
// and PathExecutionStream resumes it (resume.go).
func (c config) run(x *executor.Executor, w http.ResponseWriter, r *http.Request, req executor.Request, stream bool,
	convert func(*executor.Result) any) {
	req.Idempotency = httpapi.IdempotencyOf(r.Context())
	c.serve(w, r, stream, func(ctx context.Context, sink executor.Sink) (*executor.Result, error) {
		return x.Execute(ctx, req, sink)
	}, convert)
}

// serve runs one invocation (a run, or a resume) and answers as run describes.
func (c config) serve(w http.ResponseWriter, r *http.Request, stream bool,
	invoke func(context.Context, executor.Sink) (*executor.Result, error), convert func(*executor.Result) any) {
	if !stream {
		res, err := invoke(r.Context(), executor.Discard)
		logRun(r, res)
		if err != nil {
			httpapi.Fail(w, r, Problem(err, res))
			return
		}
		httpcore.WriteJSON(w, r, http.StatusOK, convert(res))
		return
	}
	sse := httpcore.NewSSE(w, c.heartbeat)
	sink := &sseSink{sse: sse}
	res, err := invoke(r.Context(), sink)
	logRun(r, res)
	if err != nil && !sse.Started() {
		httpapi.Fail(w, r, Problem(err, res))
		return
	}
	if err != nil {
		p := Problem(err, res)
		log := httpcore.Logger(r.Context()).With("code", p.Code) // execution_id: logRun
		if errcode.Of(p.Code).Internal {
			log.Error("stream failed", "err", err)
		} else {
			log.Info("stream ended early") // the code says why; the message may quote content
		}
		if !sink.ended {
			// The executor ends every started run with error+done frames; this covers a
			// failure that did not, so the client never waits for an end that won't come.
			msg := p.Message
			if errcode.Of(p.Code).Internal {
				msg = "internal error"
			}
			_ = sse.Event(sink.seq+1, wire.ChunkError, wire.Chunk{Type: wire.ChunkError,
				ExecutionID: p.ExecutionID, ConversationID: p.ConversationID,
				Error: &wire.ErrorBody{Code: p.Code, Message: msg}})
		}
	}
	_ = sse.Close() // a write error here means the client left; the run is over anyway
}

// logRun puts the run's execution id on the request's remaining log lines (the
// access log among them), once.
func logRun(r *http.Request, res *executor.Result) {
	if res != nil && res.ExecutionID != "" {
		httpcore.LogWith(r.Context(), "execution_id", res.ExecutionID)
	}
}

// sseSink writes each chunk as one SSE frame; a write error (the client went away)
// goes back to the executor, which cancels the run.
type sseSink struct {
	sse   *httpcore.SSE
	seq   int
	ended bool
}

func (s *sseSink) Send(c wire.Chunk) error {
	s.seq = c.Seq
	if c.Type == wire.ChunkDone {
		s.ended = true
	}
	return s.sse.Event(c.Seq, c.Type, c)
}
