// Package devllm is an offline, deterministic llm.Provider. It backs the executor's
// tests and offline `chatter` runs, so its replies are an exact, documented function of
// the request; nothing is random and nothing leaves the process.
//
// A summary request (one llm.SummaryRequest built, told apart by llm.SummaryParts)
// is answered with the folded summary: the previous summary's items, then one item
// per folded message, "<role>:<first word of its content>" (one word, so the
// summary grows by one token a message), all joined by "; ".
// When Request.MaxTokens is set the summary keeps at most that many words, dropping
// the oldest items first (at least the newest one stays). So the summary of a
// conversation is a stable list a test can read: each folded message once, in order.
//
// Any other reply is decided by the last message of Request.Messages:
//
//  1. A RoleTool message: the reply quotes every result of the trailing run of tool
//     messages, one sentence each, joined by a single space:
//     "The <name> tool returned: <content>." or, when IsError is set,
//     "The <name> tool failed: <content>." The name is Message.Name, else the name of
//     the call with the same ID in the assistant message just before the run, else
//     "unknown". Content is trimmed of surrounding whitespace.
//  2. A RoleUser message whose trimmed content starts with "/tool NAME [JSON]": a tool
//     call to NAME with JSON as its arguments ("{}" when absent; sent verbatim, so
//     invalid JSON reaches the caller as is). Several calls are separated by
//     " ; /tool ", e.g. `/tool a {"x":1} ; /tool b`, and get indexes 0, 1, ...
//     Call IDs are "call_<k>", k counting on from the number of tool calls made by
//     assistant messages already in the history (so "call_1" in the first round),
//     which keeps IDs stable across a multi-round conversation. Each call is sent as
//     exactly three fragments (ID and Name on the first), the arguments cut into
//     thirds on rune boundaries, then usage, then finish "tool_calls". If any NAME is
//     not among Request.Tools, no call is made and the reply is text instead:
//     "I cannot use the NAME tool here." for each such tool, joined by a space.
//  3. "/fail CODE": the stream fails before its first delta with
//     *llm.Error{Provider: Name(), Code: CODE}. CODE is one of llm's ErrorCode values,
//     or an HTTP status (400-599) classified as the real adapters classify theirs
//     (llm.CodeForStatus: 429 rate_limited, 500/503/529 unavailable and so retried,
//     401 auth, ...) and kept as Status; any other code fails with invalid_request.
//  4. "/fail-once CODE": like /fail for the first call this Provider sees with that
//     exact (trimmed) message content; later calls with it get the echo reply (5).
//     This lets callers test retries.
//  5. "/break": the first half (rounded down) of the echo reply's text deltas, then
//     failure with *llm.Error{Code: model_error, Message: "stream broke"}; no usage,
//     no finish.
//  6. Anything else: "You said: <text>." where text is the trimmed content of the last
//     user message (empty when there is none). When Request.System or a system
//     message contains "Context:" (retrieval results), " I used the provided context."
//     is appended.
//
// Text is streamed one word per delta, each word carrying the whitespace before it
// (the first has none), so concatenating the deltas gives the reply exactly. Then one
// DeltaUsage, then DeltaFinish ("stop" or "tool_calls").
//
// Usage: InputTokens counts whitespace-separated words in Request.System and in every
// message's content, plus len(arguments)/4 (at least 1) for each tool call in the
// history, plus 3 per message. OutputTokens is the number of text deltas, or for tool
// calls 4 per call (1 for the call and 1 per fragment). Tool specs are not counted.
//
// Options.Delay pauses before every text delta and tool-call fragment; cancelling the
// context ends the stream promptly with llm.ContextError. The context is also checked
// on every Next, so a cancelled run stops even without a delay.
package devllm

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/text"
)

// DefaultName is the provider id used when Options.Name is empty.
const DefaultName = "devllm"

// Options configures a Provider.
type Options struct {
	// Delay is the pause before each word or tool-call fragment; 0 means none. It
	// exists so streaming, cancellation and timeouts can be exercised offline.
	Delay time.Duration
	// Name is the provider id reported by Name and in errors; default "devllm".
	Name string
}

// Provider is the offline provider. It is safe for concurrent use.
type Provider struct {
	name  string
	delay time.Duration
	// failedOnce remembers /fail-once messages already failed, so the retry succeeds.
	failedOnce sync.Map
}

var _ llm.Provider = (*Provider)(nil)

// New returns a Provider.
func New(opts Options) *Provider {
	name := opts.Name
	if name == "" {
		name = DefaultName
	}
	return &Provider{name: name, delay: opts.Delay}
}

// Name returns the provider id.
func (p *Provider) Name() string { return p.name }

const (
	contextMarker = "Context:"
	contextSuffix = " I used the provided context."
	toolSep       = " ; /tool "
	toolPrefix    = "/tool "
	// fragments is how many pieces each tool call's arguments are sent in; more than
	// one so callers' fragment accumulation is always exercised.
	fragments = 3
)

// Stream starts one deterministic model call; see the package comment.
func (p *Provider) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	if req == nil {
		return llm.ErrStream(&llm.Error{Provider: p.name, Code: llm.CodeInvalidRequest, Message: "nil request"})
	}
	s := &stream{ctx: ctx, delay: p.delay, name: p.name, limit: -1, finish: llm.FinishStop}
	s.usage.InputTokens = inputTokens(req)
	if prev, msgs, ok := llm.SummaryParts(req); ok {
		s.setText(summaryReply(prev, msgs, req.MaxTokens))
		return s
	}

	msgs := req.Messages
	var last llm.Message
	if len(msgs) > 0 {
		last = msgs[len(msgs)-1]
	}
	switch last.Role {
	case llm.RoleTool:
		s.setText(toolResultsReply(msgs))
		return s
	case llm.RoleUser:
		text := strings.TrimSpace(last.Content)
		cmd, rest := cutWord(text)
		switch cmd {
		case "/fail":
			return llm.ErrStream(p.failure(rest))
		case "/fail-once":
			if _, seen := p.failedOnce.LoadOrStore(text, struct{}{}); !seen {
				return llm.ErrStream(p.failure(rest))
			}
		case "/break":
			s.setText(echoReply(req, text))
			s.limit = s.usage.OutputTokens / 2
			return s
		case "/tool":
			if calls, refusal, ok := parseToolCalls(req, text); ok {
				if refusal != "" {
					s.setText(refusal)
					return s
				}
				s.calls = calls
				s.state = stCalls
				s.usage.OutputTokens = len(calls) * (1 + fragments)
				s.finish = llm.FinishToolCalls
				return s
			}
		}
		s.setText(echoReply(req, text))
		return s
	}
	s.setText(echoReply(req, lastUserText(msgs)))
	return s
}

// failure builds the error for "/fail CODE"; rest is the text after the command.
func (p *Provider) failure(rest string) *llm.Error {
	code, _ := cutWord(rest)
	if n, err := strconv.Atoi(code); err == nil && n >= 400 && n <= 599 {
		return &llm.Error{Provider: p.name, Code: llm.CodeForStatus(n), Status: n, Message: "simulated " + http.StatusText(n)}
	}
	switch c := llm.ErrorCode(code); c {
	case llm.CodeRateLimited, llm.CodeUnavailable, llm.CodeInvalidRequest, llm.CodeAuth,
		llm.CodeModel, llm.CodeMalformed, llm.CodeCancelled, llm.CodeTimeout:
		return &llm.Error{Provider: p.name, Code: c, Message: "simulated failure"}
	}
	return &llm.Error{Provider: p.name, Code: llm.CodeInvalidRequest, Message: "unknown error code " + strconv.Quote(code)}
}

// summaryItemSep joins the items of a devllm summary.
const summaryItemSep = "; "

// summaryReply folds msgs into prev; see the package comment.
func summaryReply(prev string, msgs []llm.Message, maxWords int) string {
	var items []string
	if prev = strings.TrimSpace(prev); prev != "" {
		items = strings.Split(prev, summaryItemSep)
	}
	for _, m := range msgs {
		word, _ := cutWord(strings.TrimSpace(m.Content))
		items = append(items, string(m.Role)+":"+word)
	}
	out := strings.Join(items, summaryItemSep)
	for maxWords > 0 && len(items) > 1 && countWords(out) > maxWords {
		items = items[1:]
		out = strings.Join(items, summaryItemSep)
	}
	return out
}

func lastUserText(msgs []llm.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == llm.RoleUser {
			return strings.TrimSpace(msgs[i].Content)
		}
	}
	return ""
}

func echoReply(req *llm.Request, text string) string {
	suffix := ""
	if hasContext(req) {
		suffix = contextSuffix
	}
	// One concatenation, one allocation.
	return "You said: " + text + "." + suffix
}

func hasContext(req *llm.Request) bool {
	if strings.Contains(req.System, contextMarker) {
		return true
	}
	for i := range req.Messages {
		if req.Messages[i].Role == llm.RoleSystem && strings.Contains(req.Messages[i].Content, contextMarker) {
			return true
		}
	}
	return false
}

func toolResultsReply(msgs []llm.Message) string {
	start := len(msgs)
	for start > 0 && msgs[start-1].Role == llm.RoleTool {
		start--
	}
	var calls []llm.ToolCall
	if start > 0 && msgs[start-1].Role == llm.RoleAssistant {
		calls = msgs[start-1].ToolCalls
	}
	var b strings.Builder
	for i, m := range msgs[start:] {
		name := m.Name
		if name == "" {
			name = "unknown"
			for _, c := range calls {
				if c.ID == m.ToolCallID {
					name = c.Name
					break
				}
			}
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("The ")
		b.WriteString(name)
		if m.IsError {
			b.WriteString(" tool failed: ")
		} else {
			b.WriteString(" tool returned: ")
		}
		b.WriteString(strings.TrimSpace(m.Content))
		b.WriteByte('.')
	}
	return b.String()
}

// parseToolCalls reads "/tool NAME [JSON] ; /tool NAME [JSON] ...". ok is false when
// text is not a tool command (then it is echoed). refusal is set instead of calls when
// a named tool is not offered.
func parseToolCalls(req *llm.Request, text string) (calls []llm.ToolCall, refusal string, ok bool) {
	if !strings.HasPrefix(text, toolPrefix) {
		return nil, "", false
	}
	body := text[len(toolPrefix):]
	n := strings.Count(body, toolSep) + 1
	k := 1
	for i := range req.Messages {
		if req.Messages[i].Role == llm.RoleAssistant {
			k += len(req.Messages[i].ToolCalls)
		}
	}
	calls = make([]llm.ToolCall, 0, n)
	var refused strings.Builder
	for seg := range strings.SplitSeq(body, toolSep) {
		name, args := cutWord(strings.TrimSpace(seg))
		if name == "" {
			return nil, "", false
		}
		if args == "" {
			args = "{}"
		}
		if !offered(req.Tools, name) {
			if refused.Len() > 0 {
				refused.WriteByte(' ')
			}
			refused.WriteString("I cannot use the ")
			refused.WriteString(name)
			refused.WriteString(" tool here.")
			continue
		}
		calls = append(calls, llm.ToolCall{ID: "call_" + strconv.Itoa(k+len(calls)), Name: name, Arguments: []byte(args)})
	}
	if refused.Len() > 0 {
		return nil, refused.String(), true
	}
	return calls, "", true
}

func offered(tools []llm.ToolSpec, name string) bool {
	for i := range tools {
		if tools[i].Name == name {
			return true
		}
	}
	return false
}

func inputTokens(req *llm.Request) int {
	n := countWords(req.System)
	for i := range req.Messages {
		m := &req.Messages[i]
		n += 3 + countWords(m.Content)
		for _, c := range m.ToolCalls {
			n += max(1, len(c.Arguments)/4)
		}
	}
	return n
}

// cutWord splits s (already trimmed on the left) into its first word and the rest,
// trimmed.
func cutWord(s string) (word, rest string) {
	end := wordEnd(s, 0)
	return s[:end], strings.TrimSpace(s[end:])
}

// wordEnd returns the end of the delta starting at i: the whitespace before the next
// word and the word itself.
func wordEnd(s string, i int) int {
	inWord := false
	for i < len(s) {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if isSpace(r) {
			if inWord {
				return i
			}
		} else {
			inWord = true
		}
		i += size
	}
	return i
}

func countWords(s string) int {
	n := 0
	for i := 0; i < len(s); {
		end := wordEnd(s, i)
		if strings.TrimSpace(s[i:end]) != "" {
			n++
		}
		i = end
	}
	return n
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	}
	return unicode.IsSpace(r)
}

const (
	stText = iota
	stCalls
	stUsage
	stFinish
	stDone
)

// stream walks a precomputed reply; every delta is a slice of it, so a call costs a
// constant number of allocations however long the reply is.
type stream struct {
	ctx   context.Context
	name  string
	delay time.Duration
	timer *time.Timer

	reply   string
	pos     int // byte offset of the next text delta
	emitted int // text deltas sent
	limit   int // text deltas allowed before "/break" fails; -1 for no limit

	calls []llm.ToolCall
	ci    int // current call
	frag  int // next fragment of the current call

	usage  llm.Usage
	finish string

	state int
	cur   llm.Delta
	err   *llm.Error
}

func (s *stream) setText(reply string) {
	s.reply = reply
	s.usage.OutputTokens = countWords(reply)
}

func (s *stream) Next() bool {
	if s.state == stDone {
		return false
	}
	if err := s.ctx.Err(); err != nil {
		return s.fail(llm.ContextError(s.name, err))
	}
	switch s.state {
	case stText:
		if s.limit >= 0 && s.emitted >= s.limit {
			return s.fail(&llm.Error{Provider: s.name, Code: llm.CodeModel, Message: "stream broke"})
		}
		if s.pos < len(s.reply) {
			if !s.wait() {
				return false
			}
			end := wordEnd(s.reply, s.pos)
			s.cur = llm.Delta{Kind: llm.DeltaText, Text: s.reply[s.pos:end]}
			s.pos = end
			s.emitted++
			return true
		}
		s.state = stUsage
		return s.Next()
	case stCalls:
		if s.ci < len(s.calls) {
			if !s.wait() {
				return false
			}
			s.cur = s.fragment()
			return true
		}
		s.state = stUsage
		return s.Next()
	case stUsage:
		s.cur = llm.Delta{Kind: llm.DeltaUsage, Usage: s.usage}
		s.state = stFinish
		return true
	case stFinish:
		s.cur = llm.Delta{Kind: llm.DeltaFinish, FinishReason: s.finish}
		s.state = stDone
		s.stopTimer()
		return true
	}
	return false
}

// fragment returns the next fragment of the current call and advances.
func (s *stream) fragment() llm.Delta {
	c := &s.calls[s.ci]
	args := string(c.Arguments)
	lo := cut(args, s.frag)
	hi := cut(args, s.frag+1)
	d := llm.Delta{Kind: llm.DeltaToolCall, ToolCall: llm.ToolCallDelta{Index: s.ci, Arguments: args[lo:hi]}}
	if s.frag == 0 {
		d.ToolCall.ID = c.ID
		d.ToolCall.Name = c.Name
	}
	s.frag++
	if s.frag == fragments {
		s.frag = 0
		s.ci++
	}
	return d
}

// cut returns the byte offset where fragment i of s starts, moved back to a rune
// boundary so no fragment carries half a character.
func cut(s string, i int) int {
	if i >= fragments {
		return len(s)
	}
	return len(text.Cut(s, len(s)*i/fragments))
}

// wait pauses for the configured delay, or until the context is done.
func (s *stream) wait() bool {
	if s.delay <= 0 {
		return true
	}
	if s.timer == nil {
		s.timer = time.NewTimer(s.delay)
	} else {
		s.timer.Reset(s.delay)
	}
	select {
	case <-s.timer.C:
		return true
	case <-s.ctx.Done():
		s.fail(llm.ContextError(s.name, s.ctx.Err()))
		return false
	}
}

func (s *stream) fail(err *llm.Error) bool {
	if err == nil { // ContextError only maps Canceled and DeadlineExceeded
		err = &llm.Error{Provider: s.name, Code: llm.CodeCancelled, Message: "context done"}
	}
	s.err = err
	s.state = stDone
	s.cur = llm.Delta{}
	s.stopTimer()
	return false
}

func (s *stream) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

func (s *stream) Current() llm.Delta { return s.cur }

func (s *stream) Err() error {
	if s.err == nil {
		return nil // a nil *llm.Error must not become a non-nil error
	}
	return s.err
}

func (s *stream) Close() error {
	s.state = stDone
	s.stopTimer()
	return nil
}
