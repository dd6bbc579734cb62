package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
)

const (
	skConv    = "CONV"
	msgPfx    = "#MSG#" // sorts before skConv
	aVersion  = "version"
	aCount    = "message_count"
	aLastSeq  = "last_seq" // absent on conversations stored before messages could be deleted: message_count
	aSettings = "settings" // what the owner set, as JSON
	aSummary  = "summary"
	// aSummarySeq is the seq of the last message the summary covers; absent (0) until
	// a run summarised.
	aSummarySeq = "summary_seq"
)

func convPK(userID, convID string) string { return userPrefix(userID) + "#CONV#" + convID }
func convKey(userID, convID string) item  { return key(convPK(userID, convID), skConv) }
func convsGSI(userID string) string       { return userPrefix(userID) + "#CONVS" }
func recencyKey(c *store.Conversation) string {
	return store.TimeKey(c.LastMessageAt) + "#" + c.ID
}

func convItem(c *store.Conversation) item {
	it := convKey(c.UserID, c.ID)
	it[aGSI1PK], it[aGSI1SK] = sv(convsGSI(c.UserID)), sv(recencyKey(c))
	setS(it, "id", c.ID)
	setS(it, "user_id", c.UserID)
	setS(it, "title", c.Title)
	setS(it, aSummary, c.Summary)
	if c.SummarySeq > 0 {
		it[aSummarySeq] = nv(int64(c.SummarySeq))
	}
	it[aVersion], it[aCount] = nv(c.Version), nv(int64(c.MessageCount))
	it["total_tokens"], it["total_cost"] = nv(int64(c.TotalTokens)), fv(c.TotalCost)
	setTime(it, "last_message_at", c.LastMessageAt)
	setTime(it, "created_at", c.CreatedAt)
	setTime(it, "updated_at", c.UpdatedAt)
	it[aLastSeq] = nv(int64(c.LastSeq))
	setS(it, "llm_provider", c.Provider)
	setS(it, "llm_model", c.Model)
	setS(it, "status", c.Status)
	setS(it, aSettings, settingsJSON(c.Settings))
	return it
}

// settingsJSON is the stored form of a conversation's settings; "" when none is set.
func settingsJSON(st store.ConversationSettings) string {
	b, _ := json.Marshal(st) // plain JSON values: always marshals
	if string(b) == "{}" {
		return ""
	}
	return string(b)
}

func decodeConv(it item) store.Conversation {
	c := store.Conversation{ID: getS(it, "id"), UserID: getS(it, "user_id"), Title: getS(it, "title"),
		Summary: getS(it, aSummary), SummarySeq: int(getN(it, aSummarySeq)), Version: getN(it, aVersion), MessageCount: int(getN(it, aCount)),
		TotalTokens: int(getN(it, "total_tokens")), TotalCost: getF(it, "total_cost"),
		LastMessageAt: getTime(it, "last_message_at"), CreatedAt: getTime(it, "created_at"), UpdatedAt: getTime(it, "updated_at"),
		LastSeq: lastSeq(it), Provider: getS(it, "llm_provider"), Model: getS(it, "llm_model"), Status: getS(it, "status")}
	if st := getS(it, aSettings); st != "" {
		_ = json.Unmarshal([]byte(st), &c.Settings) // written by settingsJSON from the same type
	}
	return c
}

// lastSeq is the seq of the conversation's last message: message_count for a
// conversation stored before messages could be deleted (they were equal then).
func lastSeq(it item) int {
	if _, ok := it[aLastSeq]; ok {
		return int(getN(it, aLastSeq))
	}
	return int(getN(it, aCount))
}

func msgItem(m *store.Message) (item, error) {
	it := key(convPK(m.UserID, m.ConversationID), msgPfx+store.SeqKey(m.Seq))
	setS(it, "id", m.ID)
	setS(it, "conversation_id", m.ConversationID)
	setS(it, "user_id", m.UserID)
	setS(it, "execution_id", m.ExecutionID)
	it["seq"] = nv(int64(m.Seq))
	setS(it, "role", string(m.Role))
	setS(it, "content", m.Content)
	if len(m.ToolCalls) > 0 {
		b, err := store.Encode(m.ToolCalls)
		if err != nil {
			return nil, store.Invalid("tool calls: %v", err)
		}
		it["tool_calls"] = sv(string(b))
	}
	if len(m.Sources) > 0 {
		b, err := store.Encode(m.Sources)
		if err != nil {
			return nil, store.Invalid("sources: %v", err)
		}
		it["sources"] = sv(string(b))
	}
	setS(it, "status", m.Status)
	it["input_tokens"], it["output_tokens"] = nv(int64(m.InputTokens)), nv(int64(m.OutputTokens))
	it["cost"], it["cost_known"] = fv(m.Cost), bv(m.CostKnown)
	setS(it, "provider", m.Provider)
	setS(it, "model", m.Model)
	it["response_time_ms"] = fv(m.ResponseTimeMS)
	setTime(it, "created_at", m.CreatedAt)
	if m.Rating != nil {
		it[aRating] = fv(*m.Rating)
	}
	if m.RatingCount > 0 {
		it[aRatingCount] = nv(int64(m.RatingCount))
	}
	return it, nil
}

const (
	aRating      = "rating"
	aRatingCount = "rating_count"
)

func decodeMsg(it item) store.Message {
	m := store.Message{ID: getS(it, "id"), ConversationID: getS(it, "conversation_id"), UserID: getS(it, "user_id"),
		ExecutionID: getS(it, "execution_id"), Seq: int(getN(it, "seq")), Role: llm.Role(getS(it, "role")),
		Content: getS(it, "content"), Status: getS(it, "status"), InputTokens: int(getN(it, "input_tokens")),
		OutputTokens: int(getN(it, "output_tokens")), Cost: getF(it, "cost"), CostKnown: getBool(it, "cost_known"),
		Provider: getS(it, "provider"), Model: getS(it, "model"), ResponseTimeMS: getF(it, "response_time_ms"),
		CreatedAt: getTime(it, "created_at"), RatingCount: int(getN(it, aRatingCount))}
	if _, ok := it[aRating]; ok {
		r := getF(it, aRating)
		m.Rating = &r
	}
	if tc := getS(it, "tool_calls"); tc != "" {
		_ = json.Unmarshal([]byte(tc), &m.ToolCalls) // written by msgItem from the same type
	}
	if src := getS(it, "sources"); src != "" {
		_ = json.Unmarshal([]byte(src), &m.Sources) // written by msgItem from the same type
	}
	return m
}

func isMsg(it item) bool { return strings.HasPrefix(getS(it, aSK), msgPfx) }

// LoadConversation returns the conversation and its last window messages, oldest
// first, in one Query read backwards. Returns not_found if it does not exist or
// belongs to someone else.
func (s *Store) LoadConversation(ctx context.Context, userID, convID string, window int) (*store.Conversation, []store.Message, error) {
	window = max(window, 0)
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("#pk = :pk"),
		ExpressionAttributeNames: map[string]string{"#pk": aPK}, ExpressionAttributeValues: item{":pk": sv(convPK(userID, convID))},
		ScanIndexForward: aws.Bool(false), ConsistentRead: aws.Bool(true), Limit: aws.Int32(int32(window + 1))}
	var got []item
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, nil, s.wrap("loading conversation", err)
		}
		got = append(got, out.Items...)
		// A page stops at 1 MB; large messages may need more than one.
		if len(got) >= window+1 || out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		in.Limit = aws.Int32(int32(window + 1 - len(got)))
	}
	if len(got) == 0 || getS(got[0], aSK) != skConv {
		return nil, nil, store.NotFound("conversation", convID)
	}
	c := decodeConv(got[0])
	msgs := make([]store.Message, 0, len(got)-1)
	for _, it := range got[1:] {
		if isMsg(it) {
			msgs = append(msgs, decodeMsg(it))
		}
	}
	slices.Reverse(msgs)
	s.hints.put(convPK(userID, convID), convHint(&c))
	return &c, msgs, nil
}

func convHint(c *store.Conversation) hint {
	return hint{version: c.Version, count: c.MessageCount, seq: c.LastSeq, summarySeq: c.SummarySeq}
}

// MessageRange returns the conversation's messages with seqs from..to, oldest
// first, at most limit of them, in one Query (more only when a page stops at 1 MB);
// none for a conversation that does not exist.
func (s *Store) MessageRange(ctx context.Context, userID, convID string, from, to, limit int) ([]store.Message, error) {
	if limit <= 0 || from > to {
		return nil, nil
	}
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("#pk = :pk AND #sk BETWEEN :a AND :b"),
		ExpressionAttributeNames: map[string]string{"#pk": aPK, "#sk": aSK},
		ExpressionAttributeValues: item{":pk": sv(convPK(userID, convID)), ":a": sv(msgPfx + store.SeqKey(max(from, 0))),
			":b": sv(msgPfx + store.SeqKey(to))},
		ConsistentRead: aws.Bool(true), Limit: aws.Int32(int32(limit))}
	var out []store.Message
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, s.wrap("reading messages", err)
		}
		for _, it := range page.Items {
			out = append(out, decodeMsg(it))
		}
		if len(out) >= limit || page.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
		in.Limit = aws.Int32(int32(limit - len(out)))
	}
}

// turnHint returns the conversation's version, count, last seq and summary seq: the cached
// guess, or a consistent read when fresh is set or nothing is cached.
func (s *Store) turnHint(ctx context.Context, userID, convID string, fresh bool) (hint, error) {
	pk := convPK(userID, convID)
	if h, ok := s.hints.get(pk); ok && !fresh {
		return h, nil
	}
	it, err := s.get(ctx, convKey(userID, convID), aVersion, aCount, aLastSeq, aSummarySeq)
	if err != nil {
		return hint{}, s.wrap("reading conversation version", err)
	}
	if it == nil {
		s.hints.drop(pk)
		return hint{}, store.NotFound("conversation", convID)
	}
	h := hint{version: getN(it, aVersion), count: int(getN(it, aCount)), seq: lastSeq(it), summarySeq: int(getN(it, aSummarySeq))}
	s.hints.put(pk, h)
	return h, nil
}

func (s *Store) put(it item, cond string) types.TransactWriteItem {
	p := &types.Put{TableName: &s.table, Item: it}
	if cond != "" {
		p.ConditionExpression = &cond
		if strings.Contains(cond, "#pk") {
			p.ExpressionAttributeNames = map[string]string{"#pk": aPK}
		}
	}
	return types.TransactWriteItem{Put: p}
}

const notExists = "attribute_not_exists(#pk)"

// StartTurn stores the user message, the conversation (created, or its version and
// count bumped under a version condition that assigns the message's seq) and the
// running execution in one transaction. Returns too_large over the content cap,
// not_found for a missing conversation, conflict for an existing new conversation or
// execution; nothing is written then.
func (s *Store) StartTurn(ctx context.Context, t store.StartTurn) error {
	if err := store.PrepareMessage(t.UserMessage, s.o.MaxContentBytes); err != nil {
		return err
	}
	var execIt item
	if t.Execution != nil {
		if err := store.PrepareNewExecution(t.Execution, s.o.MaxContentBytes); err != nil {
			return err
		}
		var err error
		if execIt, err = execItem(t.Execution); err != nil {
			return err
		}
	}
	um := t.UserMessage
	pk := convPK(um.UserID, um.ConversationID)
	if t.NewConversation != nil {
		c := *t.NewConversation
		c.ID, c.UserID, c.Version, c.MessageCount, c.LastSeq = um.ConversationID, um.UserID, 1, 1, 1
		c.LastMessageAt, c.UpdatedAt = um.CreatedAt, um.CreatedAt
		m := *um
		m.Seq = 1
		mi, err := msgItem(&m)
		if err != nil {
			return err
		}
		tx := []types.TransactWriteItem{s.put(convItem(&c), notExists), s.put(mi, notExists)}
		if execIt != nil {
			tx = append(tx, s.put(execIt, notExists))
		}
		if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx}); err != nil {
			if r := cancelReasons(err); len(r) > 2 && r[2] == reasonCondition {
				return store.Conflict("execution %q already exists", t.Execution.ID)
			} else if len(r) > 0 && slices.Contains(r, reasonCondition) {
				return store.Conflict("conversation %q already exists", c.ID)
			}
			return s.wrap("starting turn", err)
		}
		um.Seq = 1
		s.hints.put(pk, hint{version: 1, count: 1, seq: 1})
		return nil
	}
	unlock, err := s.turns.lock(ctx, pk)
	if err != nil {
		return err
	}
	defer unlock()
	for attempt := 0; ; attempt++ {
		h, err := s.turnHint(ctx, um.UserID, um.ConversationID, attempt > 0)
		if err != nil {
			return err
		}
		m := *um
		m.Seq = h.seq + 1
		mi, err := msgItem(&m)
		if err != nil {
			return err
		}
		set := "SET #v = :v1, #n = :n, #s = :s, last_message_at = :t, updated_at = :t, #g = :g"
		vals := item{":v": nv(h.version), ":v1": nv(h.version + 1), ":n": nv(int64(h.count + 1)), ":s": nv(int64(m.Seq)),
			":t": sv(um.CreatedAt.UTC().Format(time.RFC3339Nano)),
			":g": sv(store.TimeKey(um.CreatedAt) + "#" + um.ConversationID)}
		tx := []types.TransactWriteItem{{Update: &types.Update{TableName: &s.table, Key: convKey(um.UserID, um.ConversationID),
			ConditionExpression: aws.String("#v = :v"), UpdateExpression: &set,
			ExpressionAttributeNames:  map[string]string{"#v": aVersion, "#n": aCount, "#s": aLastSeq, "#g": aGSI1SK},
			ExpressionAttributeValues: vals}}, s.put(mi, notExists)}
		if execIt != nil {
			tx = append(tx, s.put(execIt, notExists))
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			um.Seq = m.Seq
			s.hints.put(pk, hint{version: h.version + 1, count: h.count + 1, seq: m.Seq, summarySeq: h.summarySeq})
			return nil
		}
		r := cancelReasons(err)
		if len(r) > 2 && r[2] == reasonCondition {
			return store.Conflict("execution %q already exists", t.Execution.ID)
		}
		if !lostRace(r) {
			return s.wrap("starting turn", err)
		}
		if attempt+1 >= s.o.MaxAttempts {
			return s.tooManyRetries("starting turn")
		}
		if err := s.backoff(ctx, attempt+1); err != nil {
			return err
		}
	}
}

// lostRace reports a transaction cancelled because another writer got there first
// (a stale version, a taken seq, or a concurrent transaction on the same items).
func lostRace(reasons []string) bool {
	return slices.Contains(reasons, reasonCondition) || slices.Contains(reasons, reasonConflict)
}

// FinishTurn stores the assistant message, adds the turn's tokens and cost to the
// conversation and writes the terminal execution, in one transaction under the
// version condition. An execution already terminal (written by the event
// subscriber) is left as it is; the message and aggregates still land. A summary
// (store.SummaryUpdate) rides in the same conversation update, under a condition on
// the summary seq it folds onto: no extra request.
func (s *Store) FinishTurn(ctx context.Context, userID, convID string, t store.FinishTurn) error {
	if t.AssistantMessage != nil {
		if err := store.PrepareMessage(t.AssistantMessage, s.o.MaxContentBytes); err != nil {
			return err
		}
	}
	var execIt item
	if t.Execution != nil {
		if err := store.PrepareExecution(t.Execution, s.o.MaxContentBytes); err != nil {
			return err
		}
		var err error
		if execIt, err = execItem(t.Execution); err != nil {
			return err
		}
	}
	store.PrepareSummary(t.Summary)
	pk := convPK(userID, convID)
	fresh := false
	for attempt := 0; ; attempt++ {
		h, err := s.turnHint(ctx, userID, convID, fresh)
		if err != nil {
			return err
		}
		now := s.now()
		cond := "#v = :v"
		set := "SET #v = :v1, updated_at = :now"
		names := map[string]string{"#v": aVersion}
		vals := item{":v": nv(h.version), ":v1": nv(h.version + 1), ":now": sv(now.UTC().Format(time.RFC3339Nano)),
			":tok": nv(int64(t.Tokens)), ":cost": fv(t.Cost)}
		count, seq := h.count, h.seq
		var tx []types.TransactWriteItem
		var mi item
		if am := t.AssistantMessage; am != nil {
			count++
			seq++
			m := *am
			m.Seq = seq
			if mi, err = msgItem(&m); err != nil {
				return err
			}
			set += ", #n = :n, #s = :s, last_message_at = :t, #g = :g"
			names["#n"], names["#s"], names["#g"] = aCount, aLastSeq, aGSI1SK
			vals[":n"], vals[":s"], vals[":t"] = nv(int64(count)), nv(int64(seq)), sv(am.CreatedAt.UTC().Format(time.RFC3339Nano))
			vals[":g"] = sv(store.TimeKey(am.CreatedAt) + "#" + convID)
		}
		if e := t.Execution; e != nil && e.Provider != "" {
			set += ", llm_provider = :p, llm_model = :m"
			vals[":p"], vals[":m"] = sv(e.Provider), sv(e.Model)
		}
		summarySeq := h.summarySeq
		if u := t.Summary; store.SummaryApplies(u, h.summarySeq, h.seq) {
			// The hint is a guess; the condition makes sure the summary folded onto
			// the one stored.
			set += ", #su = :su, #ss = :ss"
			names["#su"], names["#ss"] = aSummary, aSummarySeq
			vals[":su"], vals[":ss"], vals[":ss0"] = sv(u.Text), nv(int64(u.ThroughSeq)), nv(int64(u.FromSeq))
			cond += " AND #ss = :ss0"
			if u.FromSeq == 0 {
				cond = "#v = :v AND (attribute_not_exists(#ss) OR #ss = :ss0)"
			}
			summarySeq = u.ThroughSeq
		}
		upd := set + " ADD total_tokens :tok, total_cost :cost"
		tx = append(tx, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: convKey(userID, convID),
			ConditionExpression: aws.String(cond), UpdateExpression: &upd,
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals}})
		if mi != nil {
			tx = append(tx, s.put(mi, notExists))
		}
		execAt := -1
		if execIt != nil {
			execAt = len(tx)
			tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: execIt,
				ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #st = :running"),
				ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#st": "status"},
				ExpressionAttributeValues: item{":running": sv(store.ExecRunning)}}})
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			if t.AssistantMessage != nil {
				t.AssistantMessage.Seq = seq
			}
			if t.Summary != nil {
				t.Summary.Stored = summarySeq != h.summarySeq
			}
			s.hints.put(pk, hint{version: h.version + 1, count: count, seq: seq, summarySeq: summarySeq})
			return nil
		}
		r := cancelReasons(err)
		skipped := false
		if execAt >= 0 && len(r) > execAt && r[execAt] == reasonCondition {
			// Terminal already: status only moves forward. Keep the rest of the turn.
			execIt, r[execAt], skipped = nil, "None", true
		}
		fresh = lostRace(r)
		if !fresh && !skipped {
			return s.wrap("finishing turn", err)
		}
		if attempt+1 >= s.o.MaxAttempts {
			return s.tooManyRetries("finishing turn")
		}
		if fresh {
			if err := s.backoff(ctx, attempt+1); err != nil {
				return err
			}
		}
	}
}

// GetConversation returns a conversation owned by userID.
func (s *Store) GetConversation(ctx context.Context, userID, convID string) (*store.Conversation, error) {
	it, err := s.get(ctx, convKey(userID, convID))
	if err != nil {
		return nil, s.wrap("reading conversation", err)
	}
	if it == nil {
		return nil, store.NotFound("conversation", convID)
	}
	c := decodeConv(it)
	return &c, nil
}

// ListConversations lists a user's conversations, most recent message first.
func (s *Store) ListConversations(ctx context.Context, userID string, p store.PageRequest) (store.Page[store.Conversation], error) {
	its, next, _, err := s.page(ctx, store.ScopeConversations(userID), p, query{keys: gsiKeys,
		in: &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(gsi1),
			KeyConditionExpression:   aws.String("#pk = :pk"),
			ExpressionAttributeNames: map[string]string{"#pk": aGSI1PK}, ExpressionAttributeValues: item{":pk": sv(convsGSI(userID))},
			ScanIndexForward: aws.Bool(false)}})
	if err != nil {
		return store.Page[store.Conversation]{}, s.wrap("listing conversations", err)
	}
	out := store.Page[store.Conversation]{Items: make([]store.Conversation, len(its)), Next: next}
	for i, it := range its {
		out.Items[i] = decodeConv(it)
	}
	return out, nil
}

// UpdateConversation applies fn to a conversation and stores what its owner may
// change (see store.ApplyOwnerChanges; counters belong to the turns) under the
// version condition, retrying on a lost race. Returns invalid or too_large for what
// fn set, and writes nothing then.
func (s *Store) UpdateConversation(ctx context.Context, userID, convID string, fn func(*store.Conversation) error) (*store.Conversation, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.GetConversation(ctx, userID, convID)
		if err != nil {
			return nil, err
		}
		next := *c
		if err := fn(&next); err != nil {
			return nil, err
		}
		if err := store.CheckConversation(&next); err != nil {
			return nil, err
		}
		c.ApplyOwnerChanges(&next)
		c.UpdatedAt = s.now()
		c.Version++
		set := "SET #v = :v1, title = :ti, summary = :su, #st = :st, #se = :se, updated_at = :u"
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: convKey(userID, convID),
			ConditionExpression: aws.String("#v = :v"), UpdateExpression: &set,
			ExpressionAttributeNames: map[string]string{"#v": aVersion, "#st": "status", "#se": aSettings},
			ExpressionAttributeValues: item{":v": nv(c.Version - 1), ":v1": nv(c.Version), ":ti": sv(c.Title), ":su": sv(c.Summary),
				":st": sv(c.Status), ":se": sv(settingsJSON(c.Settings)), ":u": sv(c.UpdatedAt.UTC().Format(time.RFC3339Nano))}})
		if err == nil {
			s.hints.put(convPK(userID, convID), convHint(c))
			return c, nil
		}
		if !conditionFailed(err) {
			return nil, s.wrap("updating conversation", err)
		}
		if attempt+1 >= s.o.MaxAttempts {
			return nil, s.tooManyRetries("updating conversation")
		}
		if err := s.backoff(ctx, attempt+1); err != nil {
			return nil, err
		}
	}
}

// CreateConversation stores a new conversation without messages (version 1).
// Returns conflict if the id is taken, invalid or too_large for what its owner set.
func (s *Store) CreateConversation(ctx context.Context, c *store.Conversation) error {
	if err := store.PrepareConversation(c, s.now()); err != nil {
		return err
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: convItem(c),
		ConditionExpression: aws.String(notExists), ExpressionAttributeNames: map[string]string{"#pk": aPK}})
	if conditionFailed(err) {
		return store.Conflict("conversation %q already exists", c.ID)
	}
	if err == nil {
		s.hints.put(convPK(c.UserID, c.ID), hint{version: c.Version})
	}
	return s.wrap("creating conversation", err)
}

// QueryConversations answers q over the user's conversations with the most recent
// messages, at most store.MaxCounted of them (see store.SelectConversations).
func (s *Store) QueryConversations(ctx context.Context, userID string, q store.ConversationQuery) (store.ConversationList, error) {
	if err := q.Check(); err != nil {
		return store.ConversationList{}, err
	}
	in := &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(gsi1), KeyConditionExpression: aws.String("#pk = :pk"),
		ExpressionAttributeNames: map[string]string{"#pk": aGSI1PK}, ExpressionAttributeValues: item{":pk": sv(convsGSI(userID))},
		ScanIndexForward: aws.Bool(false)}
	var all []store.Conversation
	for len(all) < store.MaxCounted {
		in.Limit = aws.Int32(int32(store.MaxCounted - len(all)))
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return store.ConversationList{}, s.wrap("listing conversations", err)
		}
		for _, it := range out.Items {
			all = append(all, decodeConv(it))
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return store.SelectConversations(s.cursors, userID, all, q)
}

// DeleteConversation deletes a conversation, its messages and the responses kept
// for it, and redacts its executions (see store.Redact). The record goes first:
// from then on the conversation is not listed, no turn can finish in it and no
// response can be kept for it (each needs the record), so the partition read after
// it sees everything there is to remove. A delete cut short is finished by the next
// one, which finds the partition without its record.
func (s *Store) DeleteConversation(ctx context.Context, userID, convID string) error {
	pk := convPK(userID, convID)
	s.hints.drop(pk)
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: convKey(userID, convID),
		ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return s.wrap("deleting conversation", err)
	}
	its, err := s.partition(ctx, pk, "execution_id", aIdemKey)
	if err != nil {
		return s.wrap("reading conversation", err)
	}
	if len(out.Attributes) == 0 && len(its) == 0 {
		return store.NotFound("conversation", convID)
	}
	var msgs []store.Message
	for _, it := range its {
		if isMsg(it) {
			msgs = append(msgs, decodeMsg(it))
		}
	}
	for _, id := range store.ExecutionIDs(msgs) {
		if err := s.redact(ctx, userID, id); err != nil {
			return err
		}
	}
	if err := s.deleteKept(ctx, userID, its); err != nil {
		return err
	}
	return s.wrap("deleting messages", s.deleteItems(ctx, its))
}

// redact redacts an execution for good (see store.Redact); one already redacted or
// gone is fine.
func (s *Store) redact(ctx context.Context, userID, execID string) error {
	_, err := s.UpdateExecution(ctx, userID, execID, func(e *store.Execution) error {
		if e.Redacted {
			return errRedacted
		}
		e.Redact()
		return nil
	})
	if err != nil && !errors.Is(err, errRedacted) && !errors.Is(err, store.ErrNotFound) {
		return s.wrap("redacting execution", err)
	}
	return nil
}

// errRedacted stops the redaction of a record that already is.
var errRedacted = errors.New("already redacted")

// deleteKept deletes the kept responses that the link items among its (items of a
// conversation's partition, read with aIdemKey) point to.
func (s *Store) deleteKept(ctx context.Context, userID string, its []item) error {
	var kept []item
	for _, it := range its {
		if isIdemLink(it) {
			kept = append(kept, idemKey(userID, getS(it, aIdemKey)))
		}
	}
	return s.wrap("deleting kept responses", s.deleteItems(ctx, kept))
}

// DeleteMessage deletes one message of a conversation (the store package comment
// says what goes with it): the execution of its turn is redacted and the kept
// responses of the conversation deleted first, then the message and the
// conversation's count and recency change in one transaction under the version
// condition. Returns not_found for a conversation or message that does not exist,
// conflict while the message's turn is still running.
func (s *Store) DeleteMessage(ctx context.Context, userID, convID, msgID string) error {
	m, err := s.findMessage(ctx, userID, convID, msgID)
	if err != nil {
		return err
	}
	if m.ExecutionID != "" {
		e, err := s.GetExecution(ctx, userID, m.ExecutionID)
		switch {
		case err == nil && store.Live(e.Status):
			return store.TurnRunning(msgID)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := s.redact(ctx, userID, m.ExecutionID); err != nil {
			return err
		}
	}
	pk := convPK(userID, convID)
	links, err := s.partitionPrefix(ctx, pk, idemLinkPfx, aIdemKey)
	if err != nil {
		return s.wrap("reading kept responses", err)
	}
	if err := s.deleteKept(ctx, userID, links); err != nil {
		return err
	}
	if err := s.deleteItems(ctx, links); err != nil {
		return s.wrap("deleting kept response links", err)
	}
	msgKey := key(pk, msgPfx+store.SeqKey(m.Seq))
	for attempt := 0; ; attempt++ {
		c, err := s.GetConversation(ctx, userID, convID)
		if err != nil {
			return err
		}
		last, err := s.newestMessageTime(ctx, pk, m.Seq)
		if err != nil {
			return s.wrap("reading messages", err)
		}
		if last.IsZero() {
			last = c.CreatedAt
		}
		set := "SET #v = :v1, #n = :n, last_message_at = :t, #g = :g, updated_at = :u"
		vals := item{":v": nv(c.Version), ":v1": nv(c.Version + 1), ":n": nv(int64(max(c.MessageCount-1, 0))),
			":t": sv(last.UTC().Format(time.RFC3339Nano)), ":g": sv(store.TimeKey(last) + "#" + convID),
			":u": sv(s.now().UTC().Format(time.RFC3339Nano))}
		names := map[string]string{"#v": aVersion, "#n": aCount, "#g": aGSI1SK}
		if c.ForgetSummaryOf(m.Seq) {
			set += " REMOVE #su, #ss"
			names["#su"], names["#ss"] = aSummary, aSummarySeq
		}
		tx := []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: &s.table, Key: msgKey, ConditionExpression: aws.String("attribute_exists(#pk) AND #id = :id"),
				ExpressionAttributeNames: map[string]string{"#pk": aPK, "#id": "id"}, ExpressionAttributeValues: item{":id": sv(msgID)}}},
			{Update: &types.Update{TableName: &s.table, Key: convKey(userID, convID), ConditionExpression: aws.String("#v = :v"),
				UpdateExpression: &set, ExpressionAttributeNames: names, ExpressionAttributeValues: vals}},
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			s.hints.put(pk, hint{version: c.Version + 1, count: max(c.MessageCount-1, 0), seq: c.LastSeq, summarySeq: c.SummarySeq})
			return nil
		}
		r := cancelReasons(err)
		if len(r) > 0 && r[0] == reasonCondition {
			return store.NotFound("message", msgID) // deleted meanwhile
		}
		if !lostRace(r) {
			return s.wrap("deleting message", err)
		}
		if attempt+1 >= s.o.MaxAttempts {
			return s.tooManyRetries("deleting message")
		}
		if err := s.backoff(ctx, attempt+1); err != nil {
			return err
		}
	}
}

// RateMessage sets the owner's rating of a message and counts it. Returns
// not_found for a conversation or message that does not exist, invalid for a
// rating outside store.MinRating..MaxRating.
func (s *Store) RateMessage(ctx context.Context, userID, convID, msgID string, rating float64) (*store.Message, error) {
	if err := store.CheckRating(rating); err != nil {
		return nil, err
	}
	m, err := s.findMessage(ctx, userID, convID, msgID)
	if err != nil {
		return nil, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table,
		Key: key(convPK(userID, convID), msgPfx+store.SeqKey(m.Seq)), ConditionExpression: aws.String("attribute_exists(#pk) AND #id = :id"),
		UpdateExpression:          aws.String("SET #r = :r ADD #rc :one"),
		ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#id": "id", "#r": aRating, "#rc": aRatingCount},
		ExpressionAttributeValues: item{":id": sv(msgID), ":r": fv(rating), ":one": nv(1)}, ReturnValues: types.ReturnValueAllNew})
	if conditionFailed(err) {
		return nil, store.NotFound("message", msgID)
	}
	if err != nil {
		return nil, s.wrap("rating message", err)
	}
	rated := decodeMsg(out.Attributes)
	return &rated, nil
}

// findMessage returns a conversation's message by id (its seq locates the item).
// Returns not_found for a conversation or message that does not exist.
func (s *Store) findMessage(ctx context.Context, userID, convID, msgID string) (*store.Message, error) {
	if _, err := s.GetConversation(ctx, userID, convID); err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :m)"),
		FilterExpression:          aws.String("#id = :id"),
		ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#sk": aSK, "#id": "id"},
		ExpressionAttributeValues: item{":pk": sv(convPK(userID, convID)), ":m": sv(msgPfx), ":id": sv(msgID)},
		ConsistentRead:            aws.Bool(true)}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, s.wrap("finding message", err)
		}
		if len(out.Items) > 0 {
			m := decodeMsg(out.Items[0])
			return &m, nil
		}
		if out.LastEvaluatedKey == nil {
			return nil, store.NotFound("message", msgID)
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// newestMessageTime is the creation time of the newest message under pk other
// than the one with seq skip; zero when there is none.
func (s *Store) newestMessageTime(ctx context.Context, pk string, skip int) (time.Time, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.table,
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :m)"),
		ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#sk": aSK, "#seq": "seq", "#t": "created_at"},
		ExpressionAttributeValues: item{":pk": sv(pk), ":m": sv(msgPfx)}, ProjectionExpression: aws.String("#seq, #t"),
		ScanIndexForward: aws.Bool(false), ConsistentRead: aws.Bool(true), Limit: aws.Int32(2)})
	if err != nil {
		return time.Time{}, err
	}
	for _, it := range out.Items {
		if int(getN(it, "seq")) != skip {
			return getTime(it, "created_at"), nil
		}
	}
	return time.Time{}, nil
}

// ListMessages lists a conversation's messages, oldest first.
func (s *Store) ListMessages(ctx context.Context, userID, convID string, p store.PageRequest) (store.Page[store.Message], error) {
	its, next, seen, err := s.page(ctx, store.ScopeMessages(userID, convID), p, query{keys: baseKeys, accept: isMsg,
		in: &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("#pk = :pk"),
			ExpressionAttributeNames: map[string]string{"#pk": aPK}, ExpressionAttributeValues: item{":pk": sv(convPK(userID, convID))},
			ConsistentRead: aws.Bool(true)}})
	if err != nil {
		return store.Page[store.Message]{}, s.wrap("listing messages", err)
	}
	if !seen && p.Cursor == "" {
		return store.Page[store.Message]{}, store.NotFound("conversation", convID)
	}
	out := store.Page[store.Message]{Items: make([]store.Message, len(its)), Next: next}
	for i, it := range its {
		out.Items[i] = decodeMsg(it)
	}
	return out, nil
}
