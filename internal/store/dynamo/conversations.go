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
	skConv   = "CONV"
	msgPfx   = "#MSG#" // sorts before skConv
	aVersion = "version"
	aCount   = "message_count"
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
	setS(it, "summary", c.Summary)
	it[aVersion], it[aCount] = nv(c.Version), nv(int64(c.MessageCount))
	it["total_tokens"], it["total_cost"] = nv(int64(c.TotalTokens)), fv(c.TotalCost)
	setTime(it, "last_message_at", c.LastMessageAt)
	setTime(it, "created_at", c.CreatedAt)
	setTime(it, "updated_at", c.UpdatedAt)
	return it
}

func decodeConv(it item) store.Conversation {
	return store.Conversation{ID: getS(it, "id"), UserID: getS(it, "user_id"), Title: getS(it, "title"),
		Summary: getS(it, "summary"), Version: getN(it, aVersion), MessageCount: int(getN(it, aCount)),
		TotalTokens: int(getN(it, "total_tokens")), TotalCost: getF(it, "total_cost"),
		LastMessageAt: getTime(it, "last_message_at"), CreatedAt: getTime(it, "created_at"), UpdatedAt: getTime(it, "updated_at")}
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
	setS(it, "status", m.Status)
	it["input_tokens"], it["output_tokens"] = nv(int64(m.InputTokens)), nv(int64(m.OutputTokens))
	it["cost"], it["cost_known"] = fv(m.Cost), bv(m.CostKnown)
	setS(it, "provider", m.Provider)
	setS(it, "model", m.Model)
	it["response_time_ms"] = fv(m.ResponseTimeMS)
	setTime(it, "created_at", m.CreatedAt)
	return it, nil
}

func decodeMsg(it item) store.Message {
	m := store.Message{ID: getS(it, "id"), ConversationID: getS(it, "conversation_id"), UserID: getS(it, "user_id"),
		ExecutionID: getS(it, "execution_id"), Seq: int(getN(it, "seq")), Role: llm.Role(getS(it, "role")),
		Content: getS(it, "content"), Status: getS(it, "status"), InputTokens: int(getN(it, "input_tokens")),
		OutputTokens: int(getN(it, "output_tokens")), Cost: getF(it, "cost"), CostKnown: getBool(it, "cost_known"),
		Provider: getS(it, "provider"), Model: getS(it, "model"), ResponseTimeMS: getF(it, "response_time_ms"),
		CreatedAt: getTime(it, "created_at")}
	if tc := getS(it, "tool_calls"); tc != "" {
		_ = json.Unmarshal([]byte(tc), &m.ToolCalls) // written by msgItem from the same type
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
	s.hints.put(convPK(userID, convID), hint{version: c.Version, count: c.MessageCount})
	return &c, msgs, nil
}

// turnHint returns the conversation's version and count: the cached guess, or a
// consistent read when fresh is set or nothing is cached.
func (s *Store) turnHint(ctx context.Context, userID, convID string, fresh bool) (hint, error) {
	pk := convPK(userID, convID)
	if h, ok := s.hints.get(pk); ok && !fresh {
		return h, nil
	}
	it, err := s.get(ctx, convKey(userID, convID), aVersion, aCount)
	if err != nil {
		return hint{}, s.wrap("reading conversation version", err)
	}
	if it == nil {
		s.hints.drop(pk)
		return hint{}, store.NotFound("conversation", convID)
	}
	h := hint{version: getN(it, aVersion), count: int(getN(it, aCount))}
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
		c.ID, c.UserID, c.Version, c.MessageCount = um.ConversationID, um.UserID, 1, 1
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
		s.hints.put(pk, hint{version: 1, count: 1})
		return nil
	}
	for attempt := 0; ; attempt++ {
		h, err := s.turnHint(ctx, um.UserID, um.ConversationID, attempt > 0)
		if err != nil {
			return err
		}
		m := *um
		m.Seq = h.count + 1
		mi, err := msgItem(&m)
		if err != nil {
			return err
		}
		set := "SET #v = :v1, #n = :n, last_message_at = :t, updated_at = :t, #g = :g"
		vals := item{":v": nv(h.version), ":v1": nv(h.version + 1), ":n": nv(int64(m.Seq)),
			":t": sv(um.CreatedAt.UTC().Format(time.RFC3339Nano)),
			":g": sv(store.TimeKey(um.CreatedAt) + "#" + um.ConversationID)}
		tx := []types.TransactWriteItem{{Update: &types.Update{TableName: &s.table, Key: convKey(um.UserID, um.ConversationID),
			ConditionExpression: aws.String("#v = :v"), UpdateExpression: &set,
			ExpressionAttributeNames:  map[string]string{"#v": aVersion, "#n": aCount, "#g": aGSI1SK},
			ExpressionAttributeValues: vals}}, s.put(mi, notExists)}
		if execIt != nil {
			tx = append(tx, s.put(execIt, notExists))
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			um.Seq = m.Seq
			s.hints.put(pk, hint{version: h.version + 1, count: m.Seq})
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
// subscriber) is left as it is; the message and aggregates still land.
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
	pk := convPK(userID, convID)
	fresh := false
	for attempt := 0; ; attempt++ {
		h, err := s.turnHint(ctx, userID, convID, fresh)
		if err != nil {
			return err
		}
		now := s.now()
		set := "SET #v = :v1, updated_at = :now"
		names := map[string]string{"#v": aVersion}
		vals := item{":v": nv(h.version), ":v1": nv(h.version + 1), ":now": sv(now.UTC().Format(time.RFC3339Nano)),
			":tok": nv(int64(t.Tokens)), ":cost": fv(t.Cost)}
		count := h.count
		var tx []types.TransactWriteItem
		var mi item
		if am := t.AssistantMessage; am != nil {
			count++
			m := *am
			m.Seq = count
			if mi, err = msgItem(&m); err != nil {
				return err
			}
			set += ", #n = :n, last_message_at = :t, #g = :g"
			names["#n"], names["#g"] = aCount, aGSI1SK
			vals[":n"], vals[":t"] = nv(int64(count)), sv(am.CreatedAt.UTC().Format(time.RFC3339Nano))
			vals[":g"] = sv(store.TimeKey(am.CreatedAt) + "#" + convID)
		}
		upd := set + " ADD total_tokens :tok, total_cost :cost"
		tx = append(tx, types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: convKey(userID, convID),
			ConditionExpression: aws.String("#v = :v"), UpdateExpression: &upd,
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
				t.AssistantMessage.Seq = count
			}
			s.hints.put(pk, hint{version: h.version + 1, count: count})
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

// UpdateConversation applies fn to a conversation and stores its title and summary
// under the version condition (the only fields a caller may change; counters belong
// to the turns), retrying on a lost race.
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
		c.Title, c.Summary, c.UpdatedAt = next.Title, next.Summary, s.now()
		c.Version++
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: convKey(userID, convID),
			ConditionExpression: aws.String("#v = :v"), UpdateExpression: aws.String("SET #v = :v1, title = :ti, summary = :su, updated_at = :u"),
			ExpressionAttributeNames: map[string]string{"#v": aVersion},
			ExpressionAttributeValues: item{":v": nv(c.Version - 1), ":v1": nv(c.Version), ":ti": sv(c.Title), ":su": sv(c.Summary),
				":u": sv(c.UpdatedAt.UTC().Format(time.RFC3339Nano))}})
		if err == nil {
			s.hints.put(convPK(userID, convID), hint{version: c.Version, count: c.MessageCount})
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
	var kept []item
	for _, it := range its {
		switch {
		case isMsg(it):
			msgs = append(msgs, decodeMsg(it))
		case isIdemLink(it):
			kept = append(kept, idemKey(userID, getS(it, aIdemKey)))
		}
	}
	for _, id := range store.ExecutionIDs(msgs) {
		_, err := s.UpdateExecution(ctx, userID, id, func(e *store.Execution) error {
			if e.Redacted {
				return errRedacted
			}
			e.Redact()
			return nil
		})
		if err != nil && !errors.Is(err, errRedacted) && !errors.Is(err, store.ErrNotFound) {
			return s.wrap("redacting execution", err)
		}
	}
	if err := s.deleteItems(ctx, kept); err != nil {
		return s.wrap("deleting kept responses", err)
	}
	return s.wrap("deleting messages", s.deleteItems(ctx, its))
}

// errRedacted stops the redaction of a record that already is.
var errRedacted = errors.New("already redacted")

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
