package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/workflow"
)

// Memory is an in-memory store: the fake for logic tests and offline runs. It keeps
// the DynamoDB store's rules — owner-scoped keys, public records in their own
// partition, sequence numbers from 1, the content cap, status that only moves
// forward, sealed cursors, the same list orders — and the shared repository suite
// (storetest) runs against both, so the two cannot drift.
type Memory struct {
	mu        sync.Mutex
	convs     map[key]*Conversation
	msgs      map[key][]Message
	execs     map[key]*Execution
	events    map[key]map[string]ExecutionEvent // by sort key "EV#<seq>#<id>"
	defs      map[key][]Definition              // versions, oldest first
	templates map[key][]byte                    // JSON, so callers never share a *Template
	tplNames  map[key]string                    // owner + TemplateNameKey -> template id
	windows   map[string]window
	idem      map[key]*IdempotencyRecord
	settings  map[string]Settings // by user id; made on first write
	docs      map[key]*memDoc     // made on first write
	counted   map[key]bool        // executions CountRun counted, by owner + execution id
	stats     map[key]*memStats   // by owner + stats key
	cursors   *Cursors
	frames    map[key][]memFrames // by owner + conversation id; made on first write
	// checkpoints of waiting runs, by owner + conversation id, then execution id
	checkpoints map[key]map[string]memCheckpoint

	// MaxContentLen caps one message's content; 0 means MaxContentLimit (see ContentCap).
	MaxContentLen int
	// Now is the clock for timestamps the store sets and for expiry.
	Now func() time.Time
}

// key is (partition owner, id); owner is "USER#<id>" or "PUBLIC", as in DynamoDB.
type key struct{ owner, id string }

type window struct {
	count   int
	expires time.Time
}

const publicOwner = "PUBLIC"

func userOwner(userID string) string { return "USER#" + userID }

// NewMemory returns an empty in-memory store with the default content cap.
func NewMemory() *Memory {
	return &Memory{
		convs: map[key]*Conversation{}, msgs: map[key][]Message{}, execs: map[key]*Execution{},
		events: map[key]map[string]ExecutionEvent{}, defs: map[key][]Definition{}, templates: map[key][]byte{}, tplNames: map[key]string{},
		windows: map[string]window{}, idem: map[key]*IdempotencyRecord{},
		counted: map[key]bool{}, stats: map[key]*memStats{}, cursors: NewCursors(nil),
		MaxContentLen: DefaultMaxContentBytes, Now: time.Now,
	}
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

func (m *Memory) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func ck(userID, id string) key { return key{userOwner(userID), id} }

// LoadConversation returns the conversation and its last window messages, oldest first.
// Returns not_found if it does not exist or belongs to someone else.
func (m *Memory) LoadConversation(_ context.Context, userID, convID string, window int) (*Conversation, []Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.convs[ck(userID, convID)]
	if !ok {
		return nil, nil, NotFound("conversation", convID)
	}
	cc := *c
	all := m.msgs[ck(userID, convID)]
	window = max(0, min(window, len(all)))
	return &cc, cloneMessages(all[len(all)-window:]), nil
}

func cloneMessages(ms []Message) []Message {
	out := slices.Clone(ms)
	for i := range out {
		out[i].ToolCalls, out[i].Sources = slices.Clone(out[i].ToolCalls), slices.Clone(out[i].Sources)
	}
	return out
}

// StartTurn stores the user message (and a new conversation) and the running execution.
func (m *Memory) StartTurn(_ context.Context, t StartTurn) error {
	if err := PrepareMessage(t.UserMessage, m.MaxContentLen); err != nil {
		return err
	}
	if t.Execution != nil {
		if err := PrepareNewExecution(t.Execution, m.MaxContentLen); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	um := t.UserMessage
	k := ck(um.UserID, um.ConversationID)
	if t.Execution != nil {
		if _, exists := m.execs[ck(t.Execution.UserID, t.Execution.ID)]; exists {
			return Conflict("execution %q already exists", t.Execution.ID)
		}
	}
	c, ok := m.convs[k]
	if t.NewConversation != nil {
		if ok {
			return Conflict("conversation %q already exists", um.ConversationID)
		}
		nc := *t.NewConversation
		nc.ID, nc.UserID, nc.Version, nc.MessageCount, nc.LastSeq = um.ConversationID, um.UserID, 0, 0, 0
		c = &nc
	} else if !ok {
		return NotFound("conversation", um.ConversationID)
	}
	c.LastSeq++
	um.Seq = c.LastSeq
	m.msgs[k] = append(m.msgs[k], *um)
	c.MessageCount++
	c.Version++
	c.LastMessageAt, c.UpdatedAt = um.CreatedAt, um.CreatedAt
	m.convs[k] = c
	if t.Execution != nil {
		e := *t.Execution
		m.execs[ck(e.UserID, e.ID)] = &e
	}
	return nil
}

// FinishTurn stores the assistant message, updates aggregates and the execution.
// An execution already in a terminal state is left as it is.
func (m *Memory) FinishTurn(_ context.Context, userID, convID string, t FinishTurn) error {
	if t.AssistantMessage != nil {
		if err := PrepareMessage(t.AssistantMessage, m.MaxContentLen); err != nil {
			return err
		}
	}
	if t.Execution != nil {
		if err := PrepareExecution(t.Execution, m.MaxContentLen); err != nil {
			return err
		}
	}
	PrepareSummary(t.Summary)
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, convID)
	c, ok := m.convs[k]
	if !ok {
		return NotFound("conversation", convID)
	}
	now := m.now()
	if u := t.Summary; SummaryApplies(u, c.SummarySeq, c.LastSeq) {
		c.Summary, c.SummarySeq, u.Stored = u.Text, u.ThroughSeq, true
	}
	if am := t.AssistantMessage; am != nil {
		c.LastSeq++
		am.Seq = c.LastSeq
		m.msgs[k] = append(m.msgs[k], *am)
		c.MessageCount++
		c.LastMessageAt = am.CreatedAt
	}
	c.TotalTokens += t.Tokens
	c.TotalCost += t.Cost
	c.Version++
	c.UpdatedAt = now
	if e := t.Execution; e != nil && e.Provider != "" {
		c.Provider, c.Model = e.Provider, e.Model
	}
	if e := t.Execution; e != nil {
		ek := ck(e.UserID, e.ID)
		if old, ok := m.execs[ek]; !ok || !Terminal(old.Status) {
			ec := *e
			m.execs[ek] = &ec
		}
	}
	return nil
}

// CreateConversation stores a new conversation without messages (version 1).
// Returns conflict if the id is taken, invalid or too_large for what its owner set.
func (m *Memory) CreateConversation(_ context.Context, c *Conversation) error {
	if err := PrepareConversation(c, m.now()); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(c.UserID, c.ID)
	if _, ok := m.convs[k]; ok {
		return Conflict("conversation %q already exists", c.ID)
	}
	cc := *c
	cc.Settings = c.Settings.clone()
	m.convs[k] = &cc
	return nil
}

// GetConversation returns a conversation owned by userID.
func (m *Memory) GetConversation(_ context.Context, userID, convID string) (*Conversation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.convs[ck(userID, convID)]
	if !ok {
		return nil, NotFound("conversation", convID)
	}
	cc := *c
	cc.Settings = c.Settings.clone()
	return &cc, nil
}

// QueryConversations answers q over the user's conversations (see
// SelectConversations).
func (m *Memory) QueryConversations(_ context.Context, userID string, q ConversationQuery) (ConversationList, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []Conversation
	owner := userOwner(userID)
	for k, c := range m.convs {
		if k.owner == owner {
			cc := *c
			cc.Settings = c.Settings.clone()
			all = append(all, cc)
		}
	}
	// What the DynamoDB store reads: the MaxCounted with the most recent messages.
	slices.SortFunc(all, func(a, b Conversation) int {
		return strings.Compare(TimeKey(b.LastMessageAt)+"#"+b.ID, TimeKey(a.LastMessageAt)+"#"+a.ID)
	})
	return SelectConversations(m.cursors, userID, all[:min(len(all), MaxCounted)], q)
}

// ListConversations lists a user's conversations, most recent message first.
func (m *Memory) ListConversations(_ context.Context, userID string, p PageRequest) (Page[Conversation], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []Conversation
	owner := userOwner(userID)
	for k, c := range m.convs {
		if k.owner == owner {
			all = append(all, *c)
		}
	}
	return paginate(m.cursors, ScopeConversations(userID), p, all,
		func(c Conversation) string { return TimeKey(c.LastMessageAt) + "#" + c.ID }, true)
}

// UpdateConversation applies fn to a conversation and stores what its owner may
// change (see ApplyOwnerChanges; counters belong to the turns). Returns invalid or
// too_large for what fn set, and writes nothing then.
func (m *Memory) UpdateConversation(_ context.Context, userID, convID string, fn func(*Conversation) error) (*Conversation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.convs[ck(userID, convID)]
	if !ok {
		return nil, NotFound("conversation", convID)
	}
	cc := *c
	cc.Settings = c.Settings.clone()
	if err := fn(&cc); err != nil {
		return nil, err
	}
	if err := CheckConversation(&cc); err != nil {
		return nil, err
	}
	c.ApplyOwnerChanges(&cc)
	c.Version++
	c.UpdatedAt = m.now()
	out := *c
	out.Settings = c.Settings.clone()
	return &out, nil
}

// DeleteConversation deletes a conversation, all its messages and the responses
// kept for it, and redacts its executions (see Redact).
func (m *Memory) DeleteConversation(_ context.Context, userID, convID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, convID)
	if _, ok := m.convs[k]; !ok {
		return NotFound("conversation", convID)
	}
	for _, id := range ExecutionIDs(m.msgs[k]) {
		if e, ok := m.execs[ck(userID, id)]; ok {
			ec := *e
			ec.Redact()
			m.execs[ck(userID, id)] = &ec
		}
	}
	m.deleteKept(userID, convID)
	delete(m.convs, k)
	delete(m.msgs, k)
	delete(m.frames, k)
	delete(m.checkpoints, k)
	return nil
}

// deleteKept deletes the responses kept for a conversation's Idempotency-Keys.
func (m *Memory) deleteKept(userID, convID string) {
	for ik, r := range m.idem {
		if r.UserID == userID && r.ConversationID == convID {
			delete(m.idem, ik)
		}
	}
}

// DeleteMessage deletes one message of a conversation (the package comment says
// what goes with it). Returns not_found for a conversation or message that does not
// exist, conflict while the message's turn is still running.
func (m *Memory) DeleteMessage(_ context.Context, userID, convID, msgID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, convID)
	c, ok := m.convs[k]
	if !ok {
		return NotFound("conversation", convID)
	}
	msgs := m.msgs[k]
	i := slices.IndexFunc(msgs, func(x Message) bool { return x.ID == msgID })
	if i < 0 {
		return NotFound("message", msgID)
	}
	if id := msgs[i].ExecutionID; id != "" {
		if e, ok := m.execs[ck(userID, id)]; ok {
			if Live(e.Status) {
				return TurnRunning(msgID)
			}
			ec := *e
			ec.Redact()
			m.execs[ck(userID, id)] = &ec
		}
	}
	m.deleteKept(userID, convID)
	c.ForgetSummaryOf(msgs[i].Seq)
	m.msgs[k] = slices.Delete(slices.Clone(msgs), i, i+1)
	c.MessageCount--
	c.LastMessageAt = c.CreatedAt
	if rest := m.msgs[k]; len(rest) > 0 {
		c.LastMessageAt = rest[len(rest)-1].CreatedAt
	}
	c.Version++
	c.UpdatedAt = m.now()
	return nil
}

// RateMessage sets the owner's rating of a message and counts it. Returns
// not_found for a conversation or message that does not exist, invalid for a
// rating outside MinRating..MaxRating.
func (m *Memory) RateMessage(_ context.Context, userID, convID, msgID string, rating float64) (*Message, error) {
	if err := CheckRating(rating); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, convID)
	if _, ok := m.convs[k]; !ok {
		return nil, NotFound("conversation", convID)
	}
	msgs := m.msgs[k]
	i := slices.IndexFunc(msgs, func(x Message) bool { return x.ID == msgID })
	if i < 0 {
		return nil, NotFound("message", msgID)
	}
	msgs[i].Rating = &rating
	msgs[i].RatingCount++
	out := cloneMessages(msgs[i : i+1])[0]
	return &out, nil
}

// ListMessages lists a conversation's messages, oldest first.
func (m *Memory) ListMessages(_ context.Context, userID, convID string, p PageRequest) (Page[Message], error) {
	scope := ScopeMessages(userID, convID)
	if err := m.checkCursor(scope, p); err != nil {
		return Page[Message]{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, convID)
	if _, ok := m.convs[k]; !ok {
		return Page[Message]{}, NotFound("conversation", convID)
	}
	return paginate(m.cursors, scope, p, cloneMessages(m.msgs[k]), func(x Message) string { return SeqKey(x.Seq) }, false)
}

// MessageRange returns the conversation's messages with seqs from..to, oldest
// first, at most limit of them; none for a conversation that does not exist.
func (m *Memory) MessageRange(_ context.Context, userID, convID string, from, to, limit int) ([]Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Message
	for _, x := range m.msgs[ck(userID, convID)] {
		if len(out) >= limit {
			break
		}
		if x.Seq >= from && x.Seq <= to {
			out = append(out, x)
		}
	}
	return cloneMessages(out), nil
}

// Messages returns every message of a conversation, oldest first (for tests).
func (m *Memory) Messages(_ context.Context, userID, convID string) ([]Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.convs[ck(userID, convID)]; !ok {
		return nil, NotFound("conversation", convID)
	}
	return cloneMessages(m.msgs[ck(userID, convID)]), nil
}

// checkCursor opens a cursor before the store is read, so a forged one reads nothing.
func (m *Memory) checkCursor(scope string, p PageRequest) error {
	if p.Cursor == "" {
		return nil
	}
	_, err := m.cursors.Open(scope, p.Cursor)
	return err
}

func defOwner(d *Definition) string {
	if d.Public {
		return publicOwner
	}
	return userOwner(d.UserID)
}

// CreateDefinition stores version 1 of a new definition. Returns conflict if the id
// is taken.
func (m *Memory) CreateDefinition(_ context.Context, d *Definition) error {
	if d.ID == "" || d.UserID == "" {
		return Invalid("a definition needs an id and a user id")
	}
	if err := CheckRecordSize("definition", d.Graph); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key{defOwner(d), d.ID}
	if len(m.defs[k]) > 0 {
		return Conflict("definition %q already exists", d.ID)
	}
	now := m.now()
	d.Version, d.Graph.ID, d.Graph.Version, d.CreatedAt, d.UpdatedAt = 1, d.ID, 1, now, now
	m.defs[k] = []Definition{cloneDefinition(*d)}
	return nil
}

// PutDefinition stores a new version of a definition, creating it if needed (a
// convenience for tests).
func (m *Memory) PutDefinition(ctx context.Context, d *Definition) error {
	err := m.CreateDefinition(ctx, d)
	if CodeOf(err) != errcode.Conflict {
		return err
	}
	nd, err := m.UpdateDefinition(ctx, d.UserID, d.ID, func(x *Definition) error { x.Graph = d.Graph; return nil })
	if err == nil {
		*d = *nd
	}
	return err
}

// cloneDefinition copies a definition deeply enough that no caller shares its graph.
func cloneDefinition(d Definition) Definition {
	b, _ := json.Marshal(d.Graph)
	d.Graph = workflow.Definition{}
	_ = json.Unmarshal(b, &d.Graph)
	return d
}

// findDef returns the versions of a definition userID may read: their own, else a
// public one. owned says whether userID owns it (and so may change it).
func (m *Memory) findDef(userID, id string) (k key, vs []Definition, owned bool) {
	if vs := m.defs[ck(userID, id)]; len(vs) > 0 {
		return ck(userID, id), vs, true
	}
	pk := key{publicOwner, id}
	vs = m.defs[pk]
	return pk, vs, len(vs) > 0 && vs[0].UserID == userID
}

// GetDefinition returns a definition version (0 = latest) owned by userID or public.
func (m *Memory) GetDefinition(_ context.Context, userID, id string, version int) (*Definition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, vs, _ := m.findDef(userID, id)
	if len(vs) == 0 || version < 0 || version > len(vs) {
		return nil, NotFound("definition", id)
	}
	if version == 0 {
		version = len(vs)
	}
	d := cloneDefinition(vs[version-1])
	return &d, nil
}

// UpdateDefinition applies fn to the latest version and stores the result as a new
// version; older versions stay readable. ID, owner and visibility do not change.
func (m *Memory) UpdateDefinition(_ context.Context, userID, id string, fn func(*Definition) error) (*Definition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, vs, owned := m.findDef(userID, id)
	if !owned {
		return nil, NotFound("definition", id)
	}
	last := vs[len(vs)-1]
	d := cloneDefinition(last)
	if err := fn(&d); err != nil {
		return nil, err
	}
	d.ID, d.UserID, d.Public, d.CreatedAt = last.ID, last.UserID, last.Public, last.CreatedAt
	d.Version = last.Version + 1
	d.Graph.ID, d.Graph.Version, d.UpdatedAt = d.ID, d.Version, m.now()
	if err := CheckRecordSize("definition", d.Graph); err != nil {
		return nil, err
	}
	m.defs[k] = append(vs, cloneDefinition(d))
	return &d, nil
}

// ListDefinitions lists the latest version of each of a user's own definitions, by id.
func (m *Memory) ListDefinitions(_ context.Context, userID string, p PageRequest) (Page[Definition], error) {
	scope := ScopeDefinitions(userID)
	if err := m.checkCursor(scope, p); err != nil {
		return Page[Definition]{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []Definition
	owner := userOwner(userID)
	for k, vs := range m.defs {
		if k.owner == owner && len(vs) > 0 {
			all = append(all, cloneDefinition(vs[len(vs)-1]))
		}
	}
	return paginate(m.cursors, scope, p, all, func(d Definition) string { return d.ID }, false)
}

// ListDefinitionVersions lists every version of a definition, oldest first.
func (m *Memory) ListDefinitionVersions(_ context.Context, userID, id string, p PageRequest) (Page[Definition], error) {
	scope := ScopeDefinitionVersions(userID, id)
	if err := m.checkCursor(scope, p); err != nil {
		return Page[Definition]{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, vs, _ := m.findDef(userID, id)
	if len(vs) == 0 {
		return Page[Definition]{}, NotFound("definition", id)
	}
	all := make([]Definition, len(vs))
	for i := range vs {
		all[i] = cloneDefinition(vs[i])
	}
	return paginate(m.cursors, scope, p, all, func(d Definition) string { return SeqKey(d.Version) }, false)
}

// DeleteDefinition deletes every version of a definition userID owns.
func (m *Memory) DeleteDefinition(_ context.Context, userID, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, _, owned := m.findDef(userID, id)
	if !owned {
		return NotFound("definition", id)
	}
	delete(m.defs, k)
	return nil
}

func putTemplate(m map[key][]byte, k key, t *workflow.Template) error {
	if t == nil || t.ID == "" {
		return Invalid("a template needs an id")
	}
	b, err := EncodeRecord("template", t)
	if err != nil {
		return err
	}
	m[k] = b
	return nil
}

func decodeTemplate(b []byte) (*workflow.Template, error) {
	t := &workflow.Template{}
	if err := json.Unmarshal(b, t); err != nil {
		return nil, err
	}
	t.Builtin = false
	return t, nil
}

// PutTemplate stores (creates or replaces) a user template; its name is the
// user's (see TemplateNameTaken).
func (m *Memory) PutTemplate(_ context.Context, userID string, t *workflow.Template) error {
	if userID == "" {
		return Invalid("a user id is required")
	}
	if t == nil || t.ID == "" {
		return Invalid("a template needs an id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	nk := key{userOwner(userID), TemplateNameKey(t.Name)}
	if id, ok := m.tplNames[nk]; ok && id != t.ID {
		return TemplateNameTaken(t.Name)
	}
	k := ck(userID, t.ID)
	if old, ok := m.templates[k]; ok {
		if ot, err := decodeTemplate(old); err == nil {
			delete(m.tplNames, key{userOwner(userID), TemplateNameKey(ot.Name)})
		}
	}
	if err := putTemplate(m.templates, k, t); err != nil {
		return err
	}
	m.tplNames[nk] = t.ID
	return nil
}

// GetTemplateByName returns the user's own template named name (TemplateNameKey:
// case and surrounding space aside). Returns not_found otherwise.
func (m *Memory) GetTemplateByName(ctx context.Context, userID, name string) (*workflow.Template, error) {
	m.mu.Lock()
	id, ok := m.tplNames[key{userOwner(userID), TemplateNameKey(name)}]
	m.mu.Unlock()
	if !ok {
		return nil, NotFound("template", name)
	}
	return m.GetTemplate(ctx, userID, id)
}

// PublishTemplate stores (creates or replaces) a public template every user can read.
func (m *Memory) PublishTemplate(_ context.Context, t *workflow.Template) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return putTemplate(m.templates, key{publicOwner, t.ID}, t)
}

// GetTemplate returns a user template owned by userID, else a public one.
func (m *Memory) GetTemplate(_ context.Context, userID, id string) (*workflow.Template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.templates[ck(userID, id)]
	public := false
	if !ok {
		b, ok = m.templates[key{publicOwner, id}]
		public = true
	}
	if !ok {
		return nil, NotFound("template", id)
	}
	t, err := decodeTemplate(b)
	if t != nil {
		t.Public = public
	}
	return t, err
}

// ListTemplates lists a user's own templates, by id.
func (m *Memory) ListTemplates(_ context.Context, userID string, p PageRequest) (Page[*workflow.Template], error) {
	scope := ScopeTemplates(userID)
	if err := m.checkCursor(scope, p); err != nil {
		return Page[*workflow.Template]{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []*workflow.Template
	owner := userOwner(userID)
	for k, b := range m.templates {
		if k.owner == owner {
			t, err := decodeTemplate(b)
			if err != nil {
				return Page[*workflow.Template]{}, err
			}
			all = append(all, t)
		}
	}
	return paginate(m.cursors, scope, p, all, func(t *workflow.Template) string { return t.ID }, false)
}

// DeleteTemplate deletes a user template.
func (m *Memory) DeleteTemplate(_ context.Context, userID, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, id)
	b, ok := m.templates[k]
	if !ok {
		return NotFound("template", id)
	}
	if t, err := decodeTemplate(b); err == nil {
		delete(m.tplNames, key{userOwner(userID), TemplateNameKey(t.Name)})
	}
	delete(m.templates, k)
	return nil
}

// CreateExecution stores a new execution record. Returns conflict if it exists.
func (m *Memory) CreateExecution(_ context.Context, e *Execution) error {
	if err := PrepareNewExecution(e, m.MaxContentLen); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(e.UserID, e.ID)
	if _, ok := m.execs[k]; ok {
		return Conflict("execution %q already exists", e.ID)
	}
	ec := *e
	m.execs[k] = &ec
	return nil
}

// GetExecution returns an execution owned by userID.
func (m *Memory) GetExecution(_ context.Context, userID, id string) (*Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.execs[ck(userID, id)]
	if !ok {
		return nil, NotFound("execution", id)
	}
	ec := *e
	return &ec, nil
}

// ListExecutions lists a user's executions matching f, newest (highest id) first.
func (m *Memory) ListExecutions(_ context.Context, userID string, f ExecutionFilter, p PageRequest) (Page[Execution], error) {
	scope := ScopeExecutions(userID, f)
	if err := m.checkCursor(scope, p); err != nil {
		return Page[Execution]{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []Execution
	owner := userOwner(userID)
	for k, e := range m.execs {
		if k.owner == owner && f.Match(e) {
			all = append(all, *e)
		}
	}
	return paginate(m.cursors, scope, p, all, func(e Execution) string { return e.ID }, true)
}

// ListOverdue returns running executions whose deadline is before now, earliest
// deadline first, at most MaxOverdue.
func (m *Memory) ListOverdue(_ context.Context, now time.Time) ([]OverdueRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []OverdueRun
	for _, e := range m.execs {
		if Overdue(e, now) {
			out = append(out, OverdueRun{UserID: e.UserID, ID: e.ID, Deadline: e.Deadline})
		}
	}
	slices.SortFunc(out, func(a, b OverdueRun) int { return a.Deadline.Compare(b.Deadline) })
	return out[:min(len(out), MaxOverdue)], nil
}

// CountExecutions counts a user's executions matching f, up to MaxCounted.
func (m *Memory) CountExecutions(_ context.Context, userID string, f ExecutionFilter) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	owner := userOwner(userID)
	for k, e := range m.execs {
		if k.owner == owner && f.Match(e) {
			n++
		}
	}
	return min(n, MaxCounted), nil
}

// UpdateExecution applies fn to an execution and stores it. Status only moves
// forward: changing a terminal status is a conflict and writes nothing.
func (m *Memory) UpdateExecution(_ context.Context, userID, id string, fn func(*Execution) error) (*Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, id)
	old, ok := m.execs[k]
	if !ok {
		return nil, NotFound("execution", id)
	}
	e := *old
	if err := fn(&e); err != nil {
		return nil, err
	}
	if err := CheckTransition(old, &e); err != nil {
		return nil, err
	}
	if err := PrepareExecution(&e, m.MaxContentLen); err != nil {
		return nil, err
	}
	m.execs[k] = &e
	out := e
	return &out, nil
}

// CheckTransition keeps an update's identity, keeps a redacted record redacted, and
// enforces that status only moves forward (running -> completed|failed|cancelled).
func CheckTransition(old, e *Execution) error {
	e.ID, e.UserID = old.ID, old.UserID
	if old.Redacted {
		e.Redact()
	}
	if Terminal(old.Status) && e.Status != old.Status {
		return Conflict("execution %q is already %s", old.ID, old.Status)
	}
	switch e.Status {
	case ExecRunning, ExecWaiting, ExecCompleted, ExecFailed, ExecCancelled:
		return nil
	}
	return Invalid("unknown execution status %q", e.Status)
}

// EventKey is the sort key of an event: ordered by seq, unique by event id.
func EventKey(ev *ExecutionEvent) string { return "EV#" + SeqKey(ev.Seq) + "#" + ev.ID }

// AppendEvents adds events to an execution's log; an event already stored (same
// id and seq) is stored once.
func (m *Memory) AppendEvents(_ context.Context, userID, execID string, evs []ExecutionEvent) error {
	if err := CheckEvents(userID, execID, evs); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, execID)
	if m.events[k] == nil {
		m.events[k] = map[string]ExecutionEvent{}
	}
	for _, ev := range evs {
		ev.UserID, ev.ExecutionID = userID, execID
		ev.Data = slices.Clone(ev.Data)
		m.events[k][EventKey(&ev)] = ev
	}
	return nil
}

// CheckEvents validates events before they are appended.
func CheckEvents(userID, execID string, evs []ExecutionEvent) error {
	if userID == "" || execID == "" {
		return Invalid("a user id and an execution id are required")
	}
	for i := range evs {
		if evs[i].ID == "" || evs[i].Seq < 0 {
			return Invalid("event %d needs an id and a seq >= 0", i)
		}
		if len(evs[i].Data) > MaxEventDataBytes {
			return &Error{Code: errcode.TooLarge, Message: "event " + evs[i].ID + " data exceeds " + itoa(MaxEventDataBytes) + " bytes"}
		}
	}
	return nil
}

// ListEvents lists an execution's events in seq order. Returns not_found when
// neither the execution nor any event of it exists.
func (m *Memory) ListEvents(_ context.Context, userID, execID string, p PageRequest) (Page[ExecutionEvent], error) {
	scope := ScopeEvents(userID, execID)
	if err := m.checkCursor(scope, p); err != nil {
		return Page[ExecutionEvent]{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(userID, execID)
	_, ok := m.execs[k]
	if !ok && len(m.events[k]) == 0 {
		return Page[ExecutionEvent]{}, NotFound("execution", execID)
	}
	all := make([]ExecutionEvent, 0, len(m.events[k]))
	for _, ev := range m.events[k] {
		ev.Data = slices.Clone(ev.Data)
		all = append(all, ev)
	}
	return paginate(m.cursors, scope, p, all, func(e ExecutionEvent) string { return EventKey(&e) }, false)
}

// Hit counts one request in the fixed window containing now for key and returns
// the count so far and when the window ends. The count stops at limit+1, so a
// count over limit means the request is over the limit.
func (m *Memory) Hit(_ context.Context, k string, win time.Duration, limit int) (int, time.Time, error) {
	if err := CheckHit(k, win, limit); err != nil {
		return 0, time.Time{}, err
	}
	now := m.now()
	start := now.Truncate(win)
	reset := start.Add(win)
	wk := k + "#" + start.UTC().Format(time.RFC3339Nano)
	m.mu.Lock()
	defer m.mu.Unlock()
	for x, w := range m.windows { // what DynamoDB's TTL does eventually
		if !now.Before(w.expires) {
			delete(m.windows, x)
		}
	}
	w := m.windows[wk]
	if w.count <= limit {
		w.count++
	}
	w.expires = reset
	m.windows[wk] = w
	return w.count, reset, nil
}

// CheckHit validates a rate-limit hit.
func CheckHit(k string, win time.Duration, limit int) error {
	if k == "" || win <= 0 || limit <= 0 {
		return Invalid("rate limit needs a key, a positive window and a positive limit")
	}
	return nil
}

// CreateIdempotency stores a record unless a live one exists for the same user and
// key (conflict).
func (m *Memory) CreateIdempotency(_ context.Context, r *IdempotencyRecord) error {
	now := m.now()
	if err := CheckIdempotency(r, now); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(r.UserID, r.Key)
	if old, ok := m.idem[k]; ok && now.Before(old.ExpiresAt) {
		return Conflict("idempotency key %q is in use", r.Key)
	}
	rc := *r
	rc.Response = slices.Clone(r.Response)
	m.idem[k] = &rc
	return nil
}

// CheckIdempotency validates a new record and defaults its state.
func CheckIdempotency(r *IdempotencyRecord, now time.Time) error {
	if r == nil || r.UserID == "" || r.Key == "" {
		return Invalid("an idempotency record needs a user id and a key")
	}
	if !now.Before(r.ExpiresAt) {
		return Invalid("an idempotency record must expire in the future")
	}
	if r.State == "" {
		r.State = IdemInProgress
	}
	return checkResponse(r)
}

func checkResponse(r *IdempotencyRecord) error {
	if len(r.Response) > MaxResponseBytes {
		return &Error{Code: errcode.TooLarge, Message: "a stored response is limited to " + itoa(MaxResponseBytes) + " bytes"}
	}
	return nil
}

// CheckCompletion validates the completion of an idempotency record.
func CheckCompletion(r *IdempotencyRecord) error {
	if err := checkIdemKey(r); err != nil {
		return err
	}
	return checkResponse(r)
}

// CheckRelease validates the release of an idempotency record: it names the
// request (user, key, request hash) whose in-progress record is to go.
func CheckRelease(r *IdempotencyRecord) error {
	if err := checkIdemKey(r); err != nil {
		return err
	}
	if r.RequestHash == "" {
		return Invalid("releasing an idempotency record needs its request hash")
	}
	return nil
}

func checkIdemKey(r *IdempotencyRecord) error {
	if r == nil || r.UserID == "" || r.Key == "" {
		return Invalid("an idempotency record needs a user id and a key")
	}
	return nil
}

// CompleteIdempotency stores the response of an in-progress record, tied to
// r.ConversationID when set. Returns not_found if there is no live record or the
// conversation does not exist (it was deleted while the request ran: the response
// is not kept), conflict if the record is already done.
func (m *Memory) CompleteIdempotency(_ context.Context, r *IdempotencyRecord) error {
	if err := CheckCompletion(r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.idem[ck(r.UserID, r.Key)]
	if !ok || !m.now().Before(old.ExpiresAt) {
		return NotFound("idempotency key", r.Key)
	}
	if old.State != IdemInProgress {
		return Conflict("idempotency key %q is already %s", r.Key, old.State)
	}
	if r.ConversationID != "" {
		if _, ok := m.convs[ck(r.UserID, r.ConversationID)]; !ok {
			return NotFound("conversation", r.ConversationID)
		}
	}
	old.State, old.StatusCode, old.Response = IdemDone, r.StatusCode, slices.Clone(r.Response)
	old.ConversationID = r.ConversationID
	return nil
}

// ReleaseIdempotency deletes the in-progress record of r's request (same user, key
// and request hash), so a retry with that key runs anew. Returns not_found if there
// is no live in-progress record of that request: a completed record is never
// released, nor another request's.
func (m *Memory) ReleaseIdempotency(_ context.Context, r *IdempotencyRecord) error {
	if err := CheckRelease(r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := ck(r.UserID, r.Key)
	old, ok := m.idem[k]
	if !ok || !m.now().Before(old.ExpiresAt) || old.State != IdemInProgress || old.RequestHash != r.RequestHash {
		return NotFound("in-progress idempotency key", r.Key)
	}
	delete(m.idem, k)
	return nil
}

// GetIdempotency returns a live record. Returns not_found if absent or expired.
func (m *Memory) GetIdempotency(_ context.Context, userID, k string) (*IdempotencyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.idem[ck(userID, k)]
	if !ok || !m.now().Before(r.ExpiresAt) {
		return nil, NotFound("idempotency key", k)
	}
	rc := *r
	rc.Response = slices.Clone(r.Response)
	return &rc, nil
}

// paginate orders items by sortKey and cuts the page after the cursor's position.
func paginate[T any](c *Cursors, scope string, p PageRequest, items []T, sortKey func(T) string, desc bool) (Page[T], error) {
	after := ""
	if p.Cursor != "" {
		pos, err := c.Open(scope, p.Cursor)
		if err != nil {
			return Page[T]{}, err
		}
		after = pos["k"]
	}
	sort.Slice(items, func(i, j int) bool {
		if desc {
			return sortKey(items[i]) > sortKey(items[j])
		}
		return sortKey(items[i]) < sortKey(items[j])
	})
	start := 0
	if after != "" {
		start = sort.Search(len(items), func(i int) bool {
			if desc {
				return sortKey(items[i]) < after
			}
			return sortKey(items[i]) > after
		})
	}
	start = min(start+max(p.Offset, 0), len(items))
	n := p.Size()
	out := Page[T]{Items: items[start:min(start+n, len(items))]}
	if start+n < len(items) {
		out.Next = c.Seal(scope, map[string]string{"k": sortKey(out.Items[len(out.Items)-1])})
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	return out, nil
}

// Scopes bind a cursor to one owner and one list.
func scope(parts ...string) string { return strings.Join(parts, "\x1f") }

// ScopeConversations is the cursor scope of a user's conversation list.
func ScopeConversations(userID string) string { return scope("convs", userID) }

// ScopeMessages is the cursor scope of a conversation's messages.
func ScopeMessages(userID, convID string) string { return scope("msgs", userID, convID) }

// ScopeDefinitions is the cursor scope of a user's definitions.
func ScopeDefinitions(userID string) string { return scope("defs", userID) }

// ScopeDefinitionVersions is the cursor scope of one definition's versions.
func ScopeDefinitionVersions(userID, id string) string { return scope("defvers", userID, id) }

// ScopeTemplates is the cursor scope of a user's templates.
func ScopeTemplates(userID string) string { return scope("tpls", userID) }

// ScopeExecutions is the cursor scope of a user's executions under one filter.
func ScopeExecutions(userID string, f ExecutionFilter) string {
	return scope("execs", userID, f.Status, f.SourceKind, f.DefinitionID)
}

// ScopeEvents is the cursor scope of an execution's events.
func ScopeEvents(userID, execID string) string { return scope("events", userID, execID) }

// memFrames is one batch of an execution's frames, as DynamoDB keeps one item.
type memFrames struct {
	execID  string
	frames  []Frame
	expires time.Time
}

var _ FrameLog = (*Memory)(nil)

// AppendFrames stores one batch of frames (FrameLog).
func (m *Memory) AppendFrames(_ context.Context, userID, convID, execID string, frames []Frame) error {
	if len(frames) == 0 {
		return nil
	}
	n := 0
	for _, f := range frames {
		n += FrameSize(f)
	}
	if n > MaxFrameBatchBytes {
		return &Error{Code: errcode.TooLarge, Message: fmt.Sprintf("a frame batch of %d bytes is over %d", n, MaxFrameBatchBytes)}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.frames == nil {
		m.frames = map[key][]memFrames{}
	}
	k := ck(userID, convID)
	cp := make([]Frame, len(frames))
	for i, f := range frames {
		cp[i] = Frame{Seq: f.Seq, Type: f.Type, Data: append([]byte(nil), f.Data...)}
	}
	m.frames[k] = append(m.frames[k], memFrames{execID: execID, frames: cp, expires: m.now().Add(FrameTTL)})
	return nil
}

// Frames returns an execution's frames after a seq (FrameLog).
func (m *Memory) Frames(_ context.Context, userID, convID, execID string, after, limit int) ([]Frame, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []Frame
	for _, b := range m.frames[ck(userID, convID)] {
		if b.execID != execID || !now.Before(b.expires) || b.frames[len(b.frames)-1].Seq <= after {
			continue
		}
		for _, f := range b.frames {
			if f.Seq > after {
				out = append(out, Frame{Seq: f.Seq, Type: f.Type, Data: append([]byte(nil), f.Data...)})
			}
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}
