package store

import (
	"context"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/workflow"
)

// Memory is an in-memory store. It is safe for concurrent use and keeps the same
// rules as the DynamoDB store: owner-scoped lookups, sequence numbers from 1, the
// content cap, and status that only moves forward.
type Memory struct {
	mu            sync.Mutex
	convs         map[key]*Conversation
	msgs          map[key][]Message
	execs         map[key]*Execution
	defs          map[key][]Definition // versions, oldest first
	templates     map[key]*workflow.Template
	MaxContentLen int
}

type key struct{ user, id string }

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		convs: map[key]*Conversation{}, msgs: map[key][]Message{}, execs: map[key]*Execution{},
		defs: map[key][]Definition{}, templates: map[key]*workflow.Template{}, MaxContentLen: DefaultMaxContentBytes,
	}
}

// CheckContent returns a too_large error when content exceeds max bytes.
func CheckContent(content string, max int) error {
	if max > 0 && len(content) > max {
		return &Error{Code: CodeTooLarge, Message: "message content exceeds " + itoa(max) + " bytes"}
	}
	if !utf8.ValidString(content) {
		return &Error{Code: CodeInvalid, Message: "message content is not valid UTF-8"}
	}
	return nil
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// LoadConversation returns the conversation and its last window messages, oldest first.
// Returns not_found if it does not exist or belongs to someone else.
func (m *Memory) LoadConversation(_ context.Context, userID, convID string, window int) (*Conversation, []Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.convs[key{userID, convID}]
	if !ok {
		return nil, nil, NotFound("conversation", convID)
	}
	cc := *c
	all := m.msgs[key{userID, convID}]
	if window > len(all) {
		window = len(all)
	}
	return &cc, slices.Clone(all[len(all)-window:]), nil
}

// StartTurn stores the user message (and a new conversation) and the running execution.
func (m *Memory) StartTurn(_ context.Context, t StartTurn) error {
	if err := CheckContent(t.UserMessage.Content, m.MaxContentLen); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	um := t.UserMessage
	k := key{um.UserID, um.ConversationID}
	if t.NewConversation != nil {
		if _, exists := m.convs[k]; exists {
			return &Error{Code: CodeConflict, Message: "conversation already exists"}
		}
		c := *t.NewConversation
		m.convs[k] = &c
	}
	c, ok := m.convs[k]
	if !ok {
		return NotFound("conversation", um.ConversationID)
	}
	m.appendLocked(c, um)
	if t.Execution != nil {
		e := *t.Execution
		m.execs[key{e.UserID, e.ID}] = &e
	}
	return nil
}

func (m *Memory) appendLocked(c *Conversation, msg *Message) {
	k := key{c.UserID, c.ID}
	msg.Seq = len(m.msgs[k]) + 1
	m.msgs[k] = append(m.msgs[k], *msg)
	c.MessageCount++
	c.Version++
	c.LastMessageAt = msg.CreatedAt
	c.UpdatedAt = msg.CreatedAt
}

// FinishTurn stores the assistant message, updates aggregates and the execution.
func (m *Memory) FinishTurn(_ context.Context, userID, convID string, t FinishTurn) error {
	if t.AssistantMessage != nil {
		if err := CheckContent(t.AssistantMessage.Content, m.MaxContentLen); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.convs[key{userID, convID}]
	if !ok {
		return NotFound("conversation", convID)
	}
	if t.AssistantMessage != nil {
		m.appendLocked(c, t.AssistantMessage)
	}
	c.TotalTokens += t.Tokens
	c.TotalCost += t.Cost
	c.Version++
	if t.Execution != nil {
		m.putExecutionLocked(t.Execution)
	}
	return nil
}

func (m *Memory) putExecutionLocked(e *Execution) {
	k := key{e.UserID, e.ID}
	if old, ok := m.execs[k]; ok && Terminal(old.Status) && !Terminal(e.Status) {
		return // status only moves forward
	}
	ec := *e
	m.execs[k] = &ec
}

// GetExecution returns an execution owned by userID.
func (m *Memory) GetExecution(_ context.Context, userID, id string) (*Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.execs[key{userID, id}]
	if !ok {
		return nil, NotFound("execution", id)
	}
	ec := *e
	return &ec, nil
}

// Messages returns every message of a conversation, oldest first.
func (m *Memory) Messages(_ context.Context, userID, convID string) ([]Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.convs[key{userID, convID}]; !ok {
		return nil, NotFound("conversation", convID)
	}
	return slices.Clone(m.msgs[key{userID, convID}]), nil
}

// PutDefinition stores a new version of a definition (version = previous + 1).
func (m *Memory) PutDefinition(_ context.Context, d *Definition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key{d.UserID, d.ID}
	d.Version = len(m.defs[k]) + 1
	d.Graph.Version = d.Version
	d.Graph.ID = d.ID
	m.defs[k] = append(m.defs[k], *d)
	return nil
}

// GetDefinition returns a definition version (0 = latest) owned by userID.
func (m *Memory) GetDefinition(_ context.Context, userID, id string, version int) (*Definition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.defs[key{userID, id}]
	if len(vs) == 0 || version < 0 || version > len(vs) {
		return nil, NotFound("definition", id)
	}
	if version == 0 {
		version = len(vs)
	}
	d := vs[version-1]
	return &d, nil
}

// PutTemplate stores a user template.
func (m *Memory) PutTemplate(_ context.Context, userID string, t *workflow.Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.templates[key{userID, t.ID}] = t
	return nil
}

// GetTemplate returns a user template owned by userID.
func (m *Memory) GetTemplate(_ context.Context, userID, id string) (*workflow.Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.templates[key{userID, id}]
	if !ok {
		return nil, NotFound("template", id)
	}
	return t, nil
}
