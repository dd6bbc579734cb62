// Package dynamo is chatter's store on one DynamoDB table (defined in template.yaml,
// created by CreateTable). Every partition key begins with its owner (USER#<id>) or
// with PUBLIC, so a read with another user's id builds another key and finds
// nothing. It implements the executor's Store and the repositories the API uses,
// and passes the same suite (storetest) as store.Memory.
//
// Key design (PK / SK; GSI1PK / GSI1SK):
//
//	conversation   USER#u#CONV#c      CONV            USER#u#CONVS  <last_message_at>#c
//	message        USER#u#CONV#c      #MSG#<seq>
//	kept response  USER#u#CONV#c      #IDEM#<key>     (link to the idempotency record)
//	execution      USER#u#EXEC#e      EXEC            USER#u#EXECS  e
//	  while running or waiting        (GSI2) RUNNING#<shard>  <deadline>#u#e
//	event          USER#u#EXEC#e      EV#<seq>#<id>
//	  counted      USER#u#EXEC#e      COUNTED#<part>  (run stats marker, stats.go)
//	run stats      USER#u#STATS       DEF#d | DEF#d#V#<version> | TPL#t
//	definition     USER#u#DEF#d       HEAD            USER#u#DEFS   d   (latest copy)
//	  version      USER#u#DEF#d       V#<version>
//	  public       PUBLIC#DEF#d       HEAD | V#...    PUBLIC#DEFS   d
//	template       USER#u#TPL | PUBLIC#TPL            <id>
//	rate window    USER#<key>#RL#<window start>       RL
//	idempotency    USER#u#IDEM#<key>  IDEM
//	settings       USER#u#SETTINGS    SETTINGS        (memory and tools, one attribute each)
//
// GSI2 is sparse: only a live (running or waiting) execution with a deadline has its keys (the
// terminal write replaces the item without them), sharded by store.RunningShard,
// so the sweep reads overdue runs by deadline without a scan.
//
// "#IDEM#" < "#MSG#" < "CONV", so the conversation and its last N messages are one
// Query read backwards; likewise an execution's events sort before its record.
package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
)

// API is the part of the DynamoDB client the store calls.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Options configure a Store.
type Options struct {
	// MaxContentBytes caps one message's content; default store.DefaultMaxContentBytes,
	// at most store.MaxContentLimit (see store.ContentCap).
	MaxContentBytes int
	// CursorKey signs list cursors. Every instance serving the same API must share
	// it; empty draws a random key (cursors then work within this process only).
	CursorKey []byte
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxAttempts bounds the retries of a write that lost a version race; default 40.
	MaxAttempts int
	Logger      *slog.Logger
}

// Store is the DynamoDB store. It is safe for concurrent use.
type Store struct {
	db      API
	table   string
	o       Options
	cursors *store.Cursors
	hints   hints
	turns   keyLocks
}

// New returns a Store on tableName.
func New(client API, tableName string, o Options) *Store {
	if o.MaxContentBytes <= 0 {
		o.MaxContentBytes = store.DefaultMaxContentBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 40
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Store{db: client, table: tableName, o: o, cursors: store.NewCursors(o.CursorKey),
		hints: hints{m: map[string]hint{}}, turns: keyLocks{m: map[string]*keyLock{}}}
}

// item is one DynamoDB item.
type item = map[string]types.AttributeValue

// Attribute names shared by every item.
const (
	aPK     = "PK"
	aSK     = "SK"
	aGSI1PK = "GSI1PK"
	aGSI1SK = "GSI1SK"
	gsi1    = "GSI1"
	aGSI2PK = "GSI2PK"
	aGSI2SK = "GSI2SK"
	gsi2    = "GSI2"
	aTTL    = "expires_at" // TimeToLiveSpecification.AttributeName in template.yaml
)

var (
	baseKeys = []string{aPK, aSK}
	gsiKeys  = []string{aPK, aSK, aGSI1PK, aGSI1SK}
)

func userPrefix(userID string) string { return "USER#" + userID }

const publicPrefix = "PUBLIC"

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nv(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func fv(v float64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(v, 'f', -1, 64)}
}
func bv(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

func key(pk, sk string) item { return item{aPK: sv(pk), aSK: sv(sk)} }

// setS sets a string attribute unless it is empty (an absent attribute reads as "").
func setS(it item, name, v string) {
	if v != "" {
		it[name] = sv(v)
	}
}

func setTime(it item, name string, t time.Time) {
	if !t.IsZero() {
		it[name] = sv(t.UTC().Format(time.RFC3339Nano))
	}
}

func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getF(it item, name string) float64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		f, _ := strconv.ParseFloat(v.Value, 64)
		return f
	}
	return 0
}

func getBool(it item, name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func getTime(it item, name string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, getS(it, name))
	return t
}

// rev is a fresh revision tag; conditional updates compare it, so any write in
// between (whoever made it) makes the condition fail.
func rev() types.AttributeValue {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return sv(hex.EncodeToString(b[:]))
}

// cancelReasons returns the per-item codes of a cancelled transaction, or nil if
// err is not a cancellation.
func cancelReasons(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	if len(codes) == 0 {
		codes = []string{"Unknown"}
	}
	return codes
}

const (
	reasonCondition = "ConditionalCheckFailed"
	reasonConflict  = "TransactionConflict"
)

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// backoff waits before retry attempt n (from 1): full jitter on a ceiling that
// doubles from 4 ms up to 200 ms, so racing writers spread out.
func (s *Store) backoff(ctx context.Context, n int) error {
	ceiling := min(4*time.Millisecond<<min(n, 6), 200*time.Millisecond)
	t := time.NewTimer(mrand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Store) tooManyRetries(what string) error {
	return &store.Error{Code: errcode.Conflict, Message: fmt.Sprintf("%s: still contended after %d attempts", what, s.o.MaxAttempts)}
}

// hint is what a turn needs to write under the version condition: the
// conversation's version and message count as last seen by this process. It is
// only a guess that saves a read; the condition decides, and a wrong guess costs
// one retry after a consistent read.
type hint struct {
	version int64
	count   int
	seq     int // the last message's seq
	// summarySeq is the seq of the last message the summary covers.
	summarySeq int
}

type hints struct {
	mu sync.Mutex
	m  map[string]hint
}

const maxHints = 4096

func (h *hints) get(k string) (hint, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[k]
	return v, ok
}

func (h *hints) put(k string, v hint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.m[k]; ok && old.version > v.version {
		return // a newer write from this process already landed
	}
	if len(h.m) >= maxHints {
		clear(h.m) // a guess cache; losing it costs one read per conversation
	}
	h.m[k] = v
}

func (h *hints) drop(k string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, k)
}

// keyLocks queues this process's turn starts on one conversation behind each
// other: each then goes out with the hint its predecessor left, so sends that
// arrive together do not race each other on the version (a lost race costs a
// consistent read and another transaction); only a finish or another process's
// write can still make one retry. Finishes take no lock: they run under a
// deadline and must not wait for a start.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	held    chan struct{} // one token while someone holds the lock
	waiters int           // holders and waiters; the entry goes with the last
}

// lock takes k's lock, or returns ctx's error if ctx ends first; unlock releases it.
func (l *keyLocks) lock(ctx context.Context, k string) (unlock func(), err error) {
	l.mu.Lock()
	kl := l.m[k]
	if kl == nil {
		kl = &keyLock{held: make(chan struct{}, 1)}
		l.m[k] = kl
	}
	kl.waiters++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if kl.waiters--; kl.waiters == 0 {
			delete(l.m, k)
		}
		l.mu.Unlock()
	}
	select {
	case kl.held <- struct{}{}:
		return func() { <-kl.held; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// get reads one item with a consistent read; nil when absent.
func (s *Store) get(ctx context.Context, k item, projection ...string) (item, error) {
	in := &dynamodb.GetItemInput{TableName: &s.table, Key: k, ConsistentRead: aws.Bool(true)}
	if len(projection) > 0 {
		names := map[string]string{}
		expr := ""
		for i, p := range projection {
			n := "#p" + strconv.Itoa(i)
			names[n] = p
			if i > 0 {
				expr += ", "
			}
			expr += n
		}
		in.ProjectionExpression, in.ExpressionAttributeNames = &expr, names
	}
	out, err := s.db.GetItem(ctx, in)
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// getFirst reads keys in one BatchGetItem and returns the item of the first key
// that exists (own record before public), with its index; nil when none does.
func (s *Store) getFirst(ctx context.Context, keys ...item) (item, int, error) {
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	var got []item
	for attempt := 0; len(req) > 0; attempt++ {
		if attempt > 0 {
			if attempt > s.o.MaxAttempts {
				return nil, 0, s.tooManyRetries("batch get")
			}
			if err := s.backoff(ctx, attempt); err != nil {
				return nil, 0, err
			}
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, 0, err
		}
		got = append(got, out.Responses[s.table]...)
		req = out.UnprocessedKeys
	}
	for i, k := range keys {
		for _, it := range got {
			if getS(it, aPK) == getS(k, aPK) && getS(it, aSK) == getS(k, aSK) {
				return it, i, nil
			}
		}
	}
	return nil, -1, nil
}

// writeBatch puts or deletes items 25 at a time, retrying what DynamoDB left
// unprocessed.
func (s *Store) writeBatch(ctx context.Context, reqs []types.WriteRequest) error {
	for len(reqs) > 0 {
		n := min(25, len(reqs))
		pending := map[string][]types.WriteRequest{s.table: reqs[:n]}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt > s.o.MaxAttempts {
					return s.tooManyRetries("batch write")
				}
				if err := s.backoff(ctx, attempt); err != nil {
					return err
				}
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return err
			}
			pending = out.UnprocessedItems
		}
		reqs = reqs[n:]
	}
	return nil
}

// partition reads the keys of every item under pk, and the attributes attrs of
// those that have them, with a consistent read.
func (s *Store) partition(ctx context.Context, pk string, attrs ...string) ([]item, error) {
	return s.partitionPrefix(ctx, pk, "", attrs...)
}

// partitionPrefix is partition for the items whose sort key begins with prefix.
func (s *Store) partitionPrefix(ctx context.Context, pk, prefix string, attrs ...string) ([]item, error) {
	names := map[string]string{"#pk": aPK, "#sk": aSK}
	proj := "#pk, #sk"
	for i, a := range attrs {
		n := "#a" + strconv.Itoa(i)
		names[n] = a
		proj += ", " + n
	}
	cond, vals := "#pk = :pk", item{":pk": sv(pk)}
	if prefix != "" {
		cond, vals[":pfx"] = cond+" AND begins_with(#sk, :pfx)", sv(prefix)
	}
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: &cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals, ProjectionExpression: &proj,
		ConsistentRead: aws.Bool(true)}
	var out []item
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// deleteItems deletes items (by their keys), batched.
func (s *Store) deleteItems(ctx context.Context, its []item) error {
	reqs := make([]types.WriteRequest, 0, len(its))
	for _, it := range its {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(getS(it, aPK), getS(it, aSK))}})
	}
	return s.writeBatch(ctx, reqs)
}

// deletePartition deletes every item under pk, batched.
func (s *Store) deletePartition(ctx context.Context, pk string) error {
	its, err := s.partition(ctx, pk)
	if err != nil {
		return err
	}
	return s.deleteItems(ctx, its)
}

// query describes one list for page.
type query struct {
	in     *dynamodb.QueryInput // without Limit and ExclusiveStartKey
	keys   []string             // attributes that locate an item in this query
	accept func(item) bool      // nil accepts every item
}

// page runs q from the cursor until it has one page, and seals the position of the
// page's last item as the next cursor. A cursor that was not sealed for scope is
// an invalid error, before anything is read. seen reports whether the query met any
// item at all (accepted or not), which tells an empty list from a missing parent.
func (s *Store) page(ctx context.Context, scope string, p store.PageRequest, q query) (items []item, next string, seen bool, err error) {
	var start item
	if p.Cursor != "" {
		pos, err := s.cursors.Open(scope, p.Cursor)
		if err != nil {
			return nil, "", false, err
		}
		start = item{}
		for _, k := range q.keys {
			v, ok := pos[k]
			if !ok {
				return nil, "", false, store.Invalid("invalid cursor: pass the next_cursor of the previous page unchanged")
			}
			start[k] = sv(v)
		}
	}
	n, skip := p.Size(), max(p.Offset, 0)
	in := *q.in
	in.Limit = aws.Int32(int32(n + 1 + skip))
	in.ExclusiveStartKey = start
	for {
		out, err := s.db.Query(ctx, &in)
		if err != nil {
			return nil, "", false, err
		}
		for _, it := range out.Items {
			seen = true
			if q.accept != nil && !q.accept(it) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			items = append(items, it)
			if len(items) > n {
				last := items[n-1]
				pos := make(map[string]string, len(q.keys))
				for _, k := range q.keys {
					pos[k] = getS(last, k)
				}
				return items[:n], s.cursors.Seal(scope, pos), true, nil
			}
		}
		if out.LastEvaluatedKey == nil {
			return items, "", seen, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func (s *Store) wrap(op string, err error) error {
	if err == nil || store.CodeOf(err) != "" {
		return err
	}
	return fmt.Errorf("dynamo: %s: %w", op, err)
}

func (s *Store) now() time.Time { return s.o.Now() }
