package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
)

// Hit counts one request in the fixed window containing now for key (which begins
// with the owner's id, e.g. "<user>#chat") and returns the count so far and when the
// window ends. One UpdateItem on a window item that TTL removes afterwards; every
// Lambda instance shares it. The count stops at limit+1, so a count over limit
// means the request is over the limit.
func (s *Store) Hit(ctx context.Context, k string, window time.Duration, limit int) (int, time.Time, error) {
	if err := store.CheckHit(k, window, limit); err != nil {
		return 0, time.Time{}, err
	}
	start := s.now().Truncate(window)
	reset := start.Add(window)
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table,
		Key:                       key(userPrefix(k)+"#RL#"+store.TimeKey(start), "RL"),
		UpdateExpression:          aws.String("SET #ttl = :ttl ADD #n :one"),
		ConditionExpression:       aws.String("attribute_not_exists(#n) OR #n <= :limit"),
		ExpressionAttributeNames:  map[string]string{"#n": "n", "#ttl": aTTL},
		ExpressionAttributeValues: item{":one": nv(1), ":limit": nv(int64(limit)), ":ttl": nv(reset.Add(time.Minute).Unix())},
		ReturnValues:              types.ReturnValueUpdatedNew})
	if conditionFailed(err) {
		return limit + 1, reset, nil
	}
	if err != nil {
		return 0, time.Time{}, s.wrap("counting rate limit", err)
	}
	return int(getN(out.Attributes, "n")), reset, nil
}

func idemKey(userID, k string) item { return key(userPrefix(userID)+"#IDEM#"+k, "IDEM") }

func idemItem(r *store.IdempotencyRecord) item {
	it := idemKey(r.UserID, r.Key)
	setS(it, "user_id", r.UserID)
	setS(it, "key", r.Key)
	setS(it, "request_hash", r.RequestHash)
	setS(it, "state", r.State)
	it["status_code"] = nv(int64(r.StatusCode))
	if len(r.Response) > 0 {
		it["response"] = &types.AttributeValueMemberB{Value: r.Response}
	}
	setTime(it, "created_at", r.CreatedAt)
	// TTL removes the item within days; "expires" is the exact expiry reads honour.
	it["expires"] = sv(store.TimeKey(r.ExpiresAt))
	it[aTTL] = nv(r.ExpiresAt.Unix() + 1)
	return it
}

func decodeIdem(it item) *store.IdempotencyRecord {
	r := &store.IdempotencyRecord{UserID: getS(it, "user_id"), Key: getS(it, "key"), RequestHash: getS(it, "request_hash"),
		State: getS(it, "state"), StatusCode: int(getN(it, "status_code")), CreatedAt: getTime(it, "created_at"),
		ConversationID: getS(it, "conversation_id")}
	if b, ok := it["response"].(*types.AttributeValueMemberB); ok {
		r.Response = b.Value
	}
	r.ExpiresAt, _ = time.Parse("2006-01-02T15:04:05.000000000Z", getS(it, "expires"))
	return r
}

// CreateIdempotency stores a record unless a live one exists for the same user and
// key (conflict). An expired record not yet removed by TTL counts as absent.
func (s *Store) CreateIdempotency(ctx context.Context, r *store.IdempotencyRecord) error {
	now := s.now()
	if err := store.CheckIdempotency(r, now); err != nil {
		return err
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: idemItem(r),
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#exp": "expires"},
		ExpressionAttributeValues: item{":now": sv(store.TimeKey(now))}})
	if conditionFailed(err) {
		return store.Conflict("idempotency key %q is in use", r.Key)
	}
	return s.wrap("storing idempotency record", err)
}

// A kept response that names a conversation is tied to it by a link item in the
// conversation's partition (sorting before its messages), written in the same
// transaction as the response and only while the conversation exists; deleting the
// conversation reads the links and deletes the responses.
const (
	idemLinkPfx = "#IDEM#" // sorts before msgPfx, so a conversation's newest items stay its record and messages
	aIdemKey    = "idem_key"
)

func isIdemLink(it item) bool { return strings.HasPrefix(getS(it, aSK), idemLinkPfx) }

// CompleteIdempotency stores the response of an in-progress record, tied to
// r.ConversationID when set. Returns not_found if there is no live record or the
// conversation does not exist (it was deleted while the request ran: the response
// is not kept), conflict if the record is already done.
func (s *Store) CompleteIdempotency(ctx context.Context, r *store.IdempotencyRecord) error {
	if err := store.CheckCompletion(r); err != nil {
		return err
	}
	set := "SET #st = :done, status_code = :code"
	vals := item{":done": sv(store.IdemDone), ":code": nv(int64(r.StatusCode)), ":now": sv(store.TimeKey(s.now())),
		":prog": sv(store.IdemInProgress)}
	names := map[string]string{"#st": "state", "#exp": "expires"}
	if len(r.Response) > 0 {
		set += ", #resp = :resp"
		vals[":resp"] = &types.AttributeValueMemberB{Value: r.Response}
		names["#resp"] = "response"
	}
	tx := []types.TransactWriteItem{{}}
	if r.ConversationID != "" {
		set += ", conversation_id = :conv"
		vals[":conv"] = sv(r.ConversationID)
		link := key(convPK(r.UserID, r.ConversationID), idemLinkPfx+r.Key)
		link[aIdemKey] = sv(r.Key)
		if !r.ExpiresAt.IsZero() {
			link[aTTL] = nv(r.ExpiresAt.Unix() + 1) // TTL removes the link with its record
		}
		tx = append(tx,
			types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &s.table,
				Key: convKey(r.UserID, r.ConversationID), ConditionExpression: aws.String("attribute_exists(#pk)"),
				ExpressionAttributeNames: map[string]string{"#pk": aPK}}},
			types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: link}})
	}
	tx[0].Update = &types.Update{TableName: &s.table, Key: idemKey(r.UserID, r.Key), UpdateExpression: &set,
		ConditionExpression: aws.String("#exp > :now AND #st = :prog"), ExpressionAttributeNames: names,
		ExpressionAttributeValues: vals}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	reasons := cancelReasons(err)
	switch {
	case err == nil:
		return nil
	case len(reasons) > 1 && reasons[1] == reasonCondition:
		return store.NotFound("conversation", r.ConversationID)
	case len(reasons) == 0 || reasons[0] != reasonCondition:
		return s.wrap("completing idempotency record", err)
	}
	// Tell a missing record from a finished one (the rare path; one more read).
	if _, gerr := s.GetIdempotency(ctx, r.UserID, r.Key); gerr != nil {
		return gerr
	}
	return store.Conflict("idempotency key %q is already %s", r.Key, store.IdemDone)
}

// ReleaseIdempotency deletes the in-progress record of r's request (same user, key
// and request hash), so a retry with that key runs anew. Returns not_found if there
// is no live in-progress record of that request: a completed record is never
// released, nor another request's.
func (s *Store) ReleaseIdempotency(ctx context.Context, r *store.IdempotencyRecord) error {
	if err := store.CheckRelease(r); err != nil {
		return err
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: idemKey(r.UserID, r.Key),
		ConditionExpression:      aws.String("#st = :prog AND #h = :h AND #exp > :now"),
		ExpressionAttributeNames: map[string]string{"#st": "state", "#h": "request_hash", "#exp": "expires"},
		ExpressionAttributeValues: item{":prog": sv(store.IdemInProgress), ":h": sv(r.RequestHash),
			":now": sv(store.TimeKey(s.now()))}})
	if conditionFailed(err) {
		return store.NotFound("in-progress idempotency key", r.Key)
	}
	return s.wrap("releasing idempotency record", err)
}

// GetIdempotency returns a live record. Returns not_found if absent or expired.
func (s *Store) GetIdempotency(ctx context.Context, userID, k string) (*store.IdempotencyRecord, error) {
	it, err := s.get(ctx, idemKey(userID, k))
	if err != nil {
		return nil, s.wrap("reading idempotency record", err)
	}
	if it == nil || getS(it, "expires") <= store.TimeKey(s.now()) {
		return nil, store.NotFound("idempotency key", k)
	}
	return decodeIdem(it), nil
}
