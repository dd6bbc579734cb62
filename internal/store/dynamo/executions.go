package dynamo

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
)

const (
	skExec = "EXEC"
	evPfx  = "EV#" // sorts before skExec
	aRev   = "rev"
	aBody  = "body"
)

func execPK(userID, id string) string { return userPrefix(userID) + "#EXEC#" + id }
func execKey(userID, id string) item  { return key(execPK(userID, id), skExec) }
func execsGSI(userID string) string   { return userPrefix(userID) + "#EXECS" }

// execItem keeps the record as JSON (its log and usage are nested) beside the
// attributes lists filter and conditions compare; the output is an attribute of its
// own, unescaped, as store.ExecutionSize counts it.
func execItem(e *store.Execution) (item, error) {
	rest := *e
	rest.Output = ""
	b, err := store.Encode(&rest)
	if err != nil {
		return nil, store.Invalid("execution: %v", err)
	}
	it := execKey(e.UserID, e.ID)
	setS(it, "output", e.Output)
	it[aGSI1PK], it[aGSI1SK] = sv(execsGSI(e.UserID)), sv(e.ID)
	it[aBody], it[aRev] = sv(string(b)), rev()
	setS(it, "status", e.Status)
	setS(it, "source_kind", e.Source.Kind)
	setS(it, "source_id", e.Source.ID)
	if store.Live(e.Status) && !e.Deadline.IsZero() {
		it[aGSI2PK], it[aGSI2SK] = sv(runningPK(store.RunningShard(e.ID))), sv(store.TimeKey(e.Deadline)+"#"+e.UserID+"#"+e.ID)
	}
	return it, nil
}

func runningPK(shard int) string { return "RUNNING#" + strconv.Itoa(shard) }

// ListOverdue returns running executions whose deadline is before now, earliest
// deadline first within a shard, at most store.MaxOverdue: one index query per
// shard, reading only overdue entries.
func (s *Store) ListOverdue(ctx context.Context, now time.Time) ([]store.OverdueRun, error) {
	var out []store.OverdueRun
	for shard := 0; shard < store.RunningShards && len(out) < store.MaxOverdue; shard++ {
		in := &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(gsi2),
			KeyConditionExpression:    aws.String("#pk = :pk AND #sk < :now"),
			ExpressionAttributeNames:  map[string]string{"#pk": aGSI2PK, "#sk": aGSI2SK},
			ExpressionAttributeValues: item{":pk": sv(runningPK(shard)), ":now": sv(store.TimeKey(now))},
			Limit:                     aws.Int32(int32(store.MaxOverdue - len(out)))}
		q, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, s.wrap("listing overdue executions", err)
		}
		for _, it := range q.Items {
			if r, ok := overdueOf(getS(it, aGSI2SK)); ok {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// overdueOf reads a GSI2 sort key: a fixed-width deadline, the user, the id (ids
// hold no '#'; a user id may).
func overdueOf(sk string) (store.OverdueRun, bool) {
	n := len(store.TimeKey(time.Time{}))
	if len(sk) < n+3 || sk[n] != '#' {
		return store.OverdueRun{}, false
	}
	dl, err := time.Parse(time.RFC3339Nano, sk[:n])
	rest := sk[n+1:]
	i := strings.LastIndexByte(rest, '#')
	if err != nil || i <= 0 || i == len(rest)-1 {
		return store.OverdueRun{}, false
	}
	return store.OverdueRun{UserID: rest[:i], ID: rest[i+1:], Deadline: dl}, true
}

func decodeExec(it item) (*store.Execution, error) {
	var e store.Execution
	if err := json.Unmarshal([]byte(getS(it, aBody)), &e); err != nil {
		return nil, err
	}
	e.Output = getS(it, "output")
	return &e, nil
}

// CreateExecution stores a new execution record. Returns conflict if it exists.
func (s *Store) CreateExecution(ctx context.Context, e *store.Execution) error {
	if err := store.PrepareNewExecution(e, s.o.MaxContentBytes); err != nil {
		return err
	}
	it, err := execItem(e)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it, ConditionExpression: aws.String(notExists),
		ExpressionAttributeNames: map[string]string{"#pk": aPK}})
	if conditionFailed(err) {
		return store.Conflict("execution %q already exists", e.ID)
	}
	return s.wrap("creating execution", err)
}

// GetExecution returns an execution owned by userID.
func (s *Store) GetExecution(ctx context.Context, userID, id string) (*store.Execution, error) {
	e, _, err := s.getExec(ctx, userID, id)
	return e, err
}

func (s *Store) getExec(ctx context.Context, userID, id string) (*store.Execution, string, error) {
	it, err := s.get(ctx, execKey(userID, id))
	if err != nil {
		return nil, "", s.wrap("reading execution", err)
	}
	if it == nil {
		return nil, "", store.NotFound("execution", id)
	}
	e, err := decodeExec(it)
	if err != nil {
		return nil, "", s.wrap("decoding execution", err)
	}
	return e, getS(it, aRev), nil
}

// execQuery is the index query of a user's executions matching f, newest first;
// nil when nothing can match.
func execQuery(table, userID string, f store.ExecutionFilter) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{TableName: &table, IndexName: aws.String(gsi1), KeyConditionExpression: aws.String("#pk = :pk"),
		ExpressionAttributeNames: map[string]string{"#pk": aGSI1PK}, ExpressionAttributeValues: item{":pk": sv(execsGSI(userID))},
		ScanIndexForward: aws.Bool(false)}
	var conds []string
	add := func(attr, val string) {
		n := "#f" + attr
		in.ExpressionAttributeNames[n] = attr
		in.ExpressionAttributeValues[":"+attr] = sv(val)
		conds = append(conds, n+" = :"+attr)
	}
	if f.Status != "" {
		add("status", f.Status)
	}
	if f.DefinitionID != "" {
		add("source_kind", "definition")
		add("source_id", f.DefinitionID)
	} else if f.SourceKind != "" {
		add("source_kind", f.SourceKind)
	}
	if f.DefinitionID != "" && f.SourceKind != "" && f.SourceKind != "definition" {
		return nil // nothing can match both
	}
	if len(conds) > 0 {
		in.FilterExpression = aws.String(strings.Join(conds, " AND "))
	}
	return in
}

// CountExecutions counts a user's executions matching f, up to store.MaxCounted.
func (s *Store) CountExecutions(ctx context.Context, userID string, f store.ExecutionFilter) (int, error) {
	in := execQuery(s.table, userID, f)
	if in == nil {
		return 0, nil
	}
	in.Select = types.SelectCount
	n := 0
	for n < store.MaxCounted {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return 0, s.wrap("counting executions", err)
		}
		n += int(out.Count)
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return min(n, store.MaxCounted), nil
}

// ListExecutions lists a user's executions matching f, newest (highest id) first.
func (s *Store) ListExecutions(ctx context.Context, userID string, f store.ExecutionFilter, p store.PageRequest) (store.Page[store.Execution], error) {
	in := execQuery(s.table, userID, f)
	if in == nil {
		return store.Page[store.Execution]{Items: []store.Execution{}}, nil
	}
	its, next, _, err := s.page(ctx, store.ScopeExecutions(userID, f), p, query{keys: gsiKeys, in: in})
	if err != nil {
		return store.Page[store.Execution]{}, s.wrap("listing executions", err)
	}
	out := store.Page[store.Execution]{Items: make([]store.Execution, len(its)), Next: next}
	for i, it := range its {
		e, err := decodeExec(it)
		if err != nil {
			return store.Page[store.Execution]{}, s.wrap("decoding execution", err)
		}
		out.Items[i] = *e
	}
	return out, nil
}

// UpdateExecution applies fn to an execution and stores it under a revision
// condition, retrying on a lost race (fn runs again on the fresh record). Status
// only moves forward: changing a terminal status is a conflict and writes nothing.
func (s *Store) UpdateExecution(ctx context.Context, userID, id string, fn func(*store.Execution) error) (*store.Execution, error) {
	for attempt := 0; ; attempt++ {
		old, oldRev, err := s.getExec(ctx, userID, id)
		if err != nil {
			return nil, err
		}
		e := *old
		if err := fn(&e); err != nil {
			return nil, err
		}
		if err := store.CheckTransition(old, &e); err != nil {
			return nil, err
		}
		if err := store.PrepareExecution(&e, s.o.MaxContentBytes); err != nil {
			return nil, err
		}
		it, err := execItem(&e)
		if err != nil {
			return nil, err
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it,
			ConditionExpression: aws.String("#rev = :rev"), ExpressionAttributeNames: map[string]string{"#rev": aRev},
			ExpressionAttributeValues: item{":rev": sv(oldRev)}})
		if err == nil {
			return &e, nil
		}
		if !conditionFailed(err) {
			return nil, s.wrap("updating execution", err)
		}
		if attempt+1 >= s.o.MaxAttempts {
			return nil, s.tooManyRetries("updating execution")
		}
		if err := s.backoff(ctx, attempt+1); err != nil {
			return nil, err
		}
	}
}

func eventItem(ev *store.ExecutionEvent) item {
	it := key(execPK(ev.UserID, ev.ExecutionID), store.EventKey(ev))
	setS(it, "id", ev.ID)
	setS(it, "execution_id", ev.ExecutionID)
	setS(it, "user_id", ev.UserID)
	it["seq"] = nv(int64(ev.Seq))
	setS(it, "type", ev.Type)
	setTime(it, "time", ev.Time)
	if len(ev.Data) > 0 {
		it["data"] = sv(string(ev.Data))
	}
	return it
}

func decodeEvent(it item) store.ExecutionEvent {
	ev := store.ExecutionEvent{ID: getS(it, "id"), ExecutionID: getS(it, "execution_id"), UserID: getS(it, "user_id"),
		Seq: int(getN(it, "seq")), Type: getS(it, "type"), Time: getTime(it, "time")}
	if d := getS(it, "data"); d != "" {
		ev.Data = json.RawMessage(d)
	}
	return ev
}

// AppendEvents adds events to an execution's log, batched. The sort key holds the
// seq and the event id, so an event delivered twice overwrites itself: the log
// keeps it once.
func (s *Store) AppendEvents(ctx context.Context, userID, execID string, evs []store.ExecutionEvent) error {
	if err := store.CheckEvents(userID, execID, evs); err != nil {
		return err
	}
	seen := map[string]bool{}
	var reqs []types.WriteRequest
	for _, ev := range evs {
		ev.UserID, ev.ExecutionID = userID, execID
		if k := store.EventKey(&ev); !seen[k] { // a batch may not name one key twice
			seen[k] = true
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: eventItem(&ev)}})
		}
	}
	return s.wrap("appending events", s.writeBatch(ctx, reqs))
}

// ListEvents lists an execution's events in seq order. Returns not_found when
// neither the execution nor any event of it exists.
func (s *Store) ListEvents(ctx context.Context, userID, execID string, p store.PageRequest) (store.Page[store.ExecutionEvent], error) {
	its, next, seen, err := s.page(ctx, store.ScopeEvents(userID, execID), p, query{keys: baseKeys,
		accept: func(it item) bool { return strings.HasPrefix(getS(it, aSK), evPfx) },
		in: &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: aws.String("#pk = :pk"),
			ExpressionAttributeNames: map[string]string{"#pk": aPK}, ExpressionAttributeValues: item{":pk": sv(execPK(userID, execID))},
			ConsistentRead: aws.Bool(true)}})
	if err != nil {
		return store.Page[store.ExecutionEvent]{}, s.wrap("listing events", err)
	}
	if !seen && p.Cursor == "" {
		return store.Page[store.ExecutionEvent]{}, store.NotFound("execution", execID)
	}
	out := store.Page[store.ExecutionEvent]{Items: make([]store.ExecutionEvent, len(its)), Next: next}
	for i, it := range its {
		out.Items[i] = decodeEvent(it)
	}
	return out, nil
}
