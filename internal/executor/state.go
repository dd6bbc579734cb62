package executor

import (
	"strings"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/retrieval"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/workflow"
)

// state is a run's mutable state. Nodes read it during a superstep and change it
// only through effects, applied one at a time in vertex order after the superstep,
// so parallel branches never race and the result is deterministic.
type state struct {
	msgs        []llm.Message // history, then the user message, then what the run adds
	histLen     int           // leading messages that are history
	histSeq     []int         // the stored seq of each history message
	pending     []llm.ToolCall
	toolCalls   int
	records     []store.ToolCallRecord
	vars        map[string]any
	errors      []string
	handled     int // errors[:handled] were dealt with by an error handler
	lastFail    int // vertex that failed last, -1 none
	loops       map[string]*workflow.LoopInfo
	visits      map[int]int // per-vertex visit count (delay backoff, retries)
	retries     map[int]int // per error-handler retries used
	nodeRetries map[int]int // per-vertex re-runs used (the node's retries setting)
	reply       replyText
	lastText    string
	finish      string // the finish reason of the last model call that answered
	usage       llm.Usage
	cost        float64
	costKnown   bool
	provider    string
	model       string
	sources     []retrieval.Passage
	summary     string // memory node: conversation summary note
	// newSummary is the summary the memory node folded, stored with the turn;
	// foldCounted is set once the fold's usage is in usage and cost.
	newSummary  *store.SummaryUpdate
	foldCounted bool
	context     string // retrieval node: passages note
	env         workflow.Env
}

// replyText is the run's reply: its parts joined by a blank line. A reply of one
// part (most are) is that part's string, not a copy.
type replyText struct {
	first string          // the reply while it has one part
	b     strings.Builder // the reply once it has more
}

func (t *replyText) Len() int {
	if t.b.Len() > 0 {
		return t.b.Len()
	}
	return len(t.first)
}

func (t *replyText) String() string {
	if t.b.Len() > 0 {
		return t.b.String()
	}
	return t.first
}

// add appends a part, after a blank line unless the reply is empty.
func (t *replyText) add(s string) {
	if t.Len() == 0 {
		t.set(s)
		return
	}
	if t.b.Len() == 0 {
		t.b.WriteString(t.first)
	}
	t.b.WriteString("\n\n")
	t.b.WriteString(s)
}

// set replaces the reply.
func (t *replyText) set(s string) {
	t.first = s
	t.b.Reset()
}

// effect changes the state after a superstep.
type effect func(s *state) error

func (s *state) init(r *run, hist []store.Message) {
	s.msgs = make([]llm.Message, 0, len(hist)+4) // not pooled: a provider may keep what it was sent
	s.histSeq = make([]int, 0, len(hist))
	for i := range hist {
		m := &hist[i]
		if m.Role != llm.RoleUser && m.Role != llm.RoleAssistant || m.Content == "" {
			continue
		}
		s.msgs = append(s.msgs, llm.Message{Role: m.Role, Content: m.Content})
		s.histSeq = append(s.histSeq, m.Seq)
	}
	s.histLen = len(s.msgs)
	s.msgs = append(s.msgs, llm.Message{Role: llm.RoleUser, Content: r.req.Input.Message})
	s.lastFail = -1
	if r.bufs.visits == nil {
		r.bufs.visits = make(map[int]int, len(r.graph.Nodes))
	}
	s.visits = r.bufs.visits
	s.costKnown = true
	s.vars = make(map[string]any, len(r.graph.Def.Variables)+1)
	for k, v := range r.graph.Def.Variables {
		s.vars[k] = v
	}
	s.env = workflow.Env{Message: r.req.Input.Message, Variables: s.vars, MaxToolCalls: r.maxTools}
}

// trimHistory keeps the last window history messages.
func (s *state) trimHistory(window int) {
	if drop := s.histLen - window; drop > 0 {
		s.msgs = s.msgs[drop:]
		s.histSeq = s.histSeq[drop:]
		s.histLen = window
	}
}

// addUsage counts one model call's usage and cost toward the run's.
func (s *state) addUsage(u llm.Usage, c llm.Cost) {
	s.usage = s.usage.Add(u)
	s.cost += c.USD
	s.costKnown = s.costKnown && c.Known
}

// syncEnv refreshes what conditions see.
func (s *state) syncEnv() {
	e := &s.env
	e.HasToolCalls = len(s.pending) > 0
	e.ToolCalls = s.toolCalls
	e.Variables = s.vars
	e.Response = s.lastText
	e.Errors = s.errors
	e.HasErrors = len(s.errors) > 0
	e.Loop = s.loops
}

// system composes the system prompt of a model call.
func (s *state) system(base string) string {
	if s.summary == "" && s.context == "" {
		return base
	}
	parts := make([]string, 0, 3)
	for _, p := range []string{base, s.summary, s.context} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "\n\n")
}
