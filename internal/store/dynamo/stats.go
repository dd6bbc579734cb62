package dynamo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/text"
)

// Run statistics (see store.RunStats). An aggregate is one item, USER#u#STATS /
// <stats key>, of numeric attributes that CountRun raises with ADD: runs,
// completed, failed, cancelled, dur_sum, in_tok, out_tok, cost, cost_unknown, h<i>
// (duration bucket i, only the buckets hit), and per node n<hash>i (the node id, cut
// to store.MaxStatsNodeIDBytes), n<hash>r, n<hash>f and n<hash>h<i>, <hash> being 16
// hex digits of the id's FNV-64a. Worst case per node (every bucket hit) is ~3 KB,
// so workflow.MaxNodes nodes stay well under DynamoDB's 400 KB.
//
// An execution is counted once: each write is a transaction of a marker item
// USER#u#EXEC#e / COUNTED#<part> put under attribute_not_exists with the ADDs, so
// a redelivered or concurrent terminal event finds the marker and adds nothing.
// An update expression may be at most 4 KB, so a run of many nodes is written in
// parts, each under its own marker: part 0 carries every total, later parts the
// remaining nodes; a part interrupted is written by the next delivery.

const (
	statsSK      = "COUNTED#" // + part, in the execution's partition
	maxStatTerms = 120        // terms per update expression: under 4 KB, and under what moto's parser can recurse through (250 fails there)
	aStatRuns    = "runs"
)

func statsPK(userID string) string { return userPrefix(userID) + "#STATS" }

func nodeAttr(id string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return fmt.Sprintf("n%016x", h.Sum64())
}

// statTerm is one SET or ADD of an update expression.
type statTerm struct {
	set  bool
	name string
	val  types.AttributeValue
}

// statGroups are the terms of r for one aggregate: group 0 the totals, then one
// group per node (kept together in one part).
func statGroups(r *store.RunSample, nodes bool) [][]statTerm {
	one := nv(1)
	add := func(name string, v types.AttributeValue) statTerm { return statTerm{name: name, val: v} }
	tot := []statTerm{add(aStatRuns, one), add(r.Status, one), add("dur_sum", fv(r.DurationMS)),
		add("h"+strconv.Itoa(store.HistBucket(r.DurationMS)), one),
		add("in_tok", nv(r.InputTokens)), add("out_tok", nv(r.OutputTokens))}
	if r.CostKnown {
		tot = append(tot, add("cost", fv(r.Cost)))
	} else {
		tot = append(tot, add("cost_unknown", one))
	}
	groups := [][]statTerm{tot}
	if !nodes {
		return groups
	}
	for _, n := range r.Nodes {
		a := nodeAttr(n.NodeID)
		g := []statTerm{{set: true, name: a + "i", val: sv(text.Cut(n.NodeID, store.MaxStatsNodeIDBytes))},
			add(a+"r", nv(n.Runs))}
		if n.Failures > 0 {
			g = append(g, add(a+"f", nv(n.Failures)))
		}
		for i, c := range n.Hist {
			if c > 0 {
				g = append(g, add(a+"h"+strconv.Itoa(i), nv(c)))
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// statParts packs groups into parts of at most maxStatTerms terms.
func statParts(groups [][]statTerm) [][]statTerm {
	var parts [][]statTerm
	var cur []statTerm
	for _, g := range groups {
		if len(cur) > 0 && len(cur)+len(g) > maxStatTerms {
			parts, cur = append(parts, cur), nil
		}
		cur = append(cur, g...)
	}
	return append(parts, cur)
}

func (s *Store) statUpdate(userID, k string, terms []statTerm) types.TransactWriteItem {
	names, vals := map[string]string{}, item{}
	var sets, adds []string
	for i, t := range terms {
		n, v := "#a"+strconv.Itoa(i), ":v"+strconv.Itoa(i)
		names[n], vals[v] = t.name, t.val
		if t.set {
			sets = append(sets, n+" = "+v)
		} else {
			adds = append(adds, n+" "+v)
		}
	}
	var expr string
	if len(sets) > 0 {
		expr = "SET " + strings.Join(sets, ", ") + " "
	}
	expr += "ADD " + strings.Join(adds, ", ")
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.table, Key: key(statsPK(userID), k),
		UpdateExpression: &expr, ExpressionAttributeNames: names, ExpressionAttributeValues: vals}}
}

// CountRun adds r to the aggregates keys of userID once per execution (see
// store.Memory.CountRun).
func (s *Store) CountRun(ctx context.Context, userID, execID string, keys []store.StatsKey, r store.RunSample) (bool, error) {
	if err := store.CheckRunSample(userID, execID, keys, &r); err != nil {
		return false, err
	}
	perKey := make([][][]statTerm, len(keys))
	parts := 0
	for i, k := range keys {
		perKey[i] = statParts(statGroups(&r, k.Nodes))
		parts = max(parts, len(perKey[i]))
	}
	first := false
	for p := 0; p < parts; p++ {
		tx := []types.TransactWriteItem{s.put(key(execPK(userID, execID), statsSK+strconv.Itoa(p)), notExists)}
		for i, k := range keys {
			if p < len(perKey[i]) {
				tx = append(tx, s.statUpdate(userID, k.Key, perKey[i][p]))
			}
		}
		wrote, err := s.countPart(ctx, tx)
		if err != nil {
			return false, err
		}
		if p == 0 {
			first = wrote
		}
	}
	return first, nil
}

// countPart writes one part; false when its marker was there (counted before).
func (s *Store) countPart(ctx context.Context, tx []types.TransactWriteItem) (bool, error) {
	for attempt := 0; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			return true, nil
		}
		r := cancelReasons(err)
		if len(r) > 0 && r[0] == reasonCondition {
			return false, nil
		}
		if !lostRace(r) {
			return false, s.wrap("counting run", err)
		}
		if attempt+1 >= s.o.MaxAttempts {
			return false, s.tooManyRetries("counting run")
		}
		if err := s.backoff(ctx, attempt+1); err != nil {
			return false, err
		}
	}
}

// RunStats returns userID's aggregates named keys, in order (a few consistent
// reads, one item each).
func (s *Store) RunStats(ctx context.Context, userID string, keys ...string) ([]store.RunStats, error) {
	if userID == "" {
		return nil, store.Invalid("run stats: user_id is required")
	}
	out := make([]store.RunStats, len(keys))
	for i, k := range keys {
		it, err := s.get(ctx, key(statsPK(userID), k))
		if err != nil {
			return nil, s.wrap("reading run stats", err)
		}
		st, err := decodeStats(k, it)
		if err != nil {
			return nil, s.wrap("decoding run stats", err)
		}
		out[i] = st
	}
	return out, nil
}

func decodeStats(k string, it item) (store.RunStats, error) {
	st := store.RunStats{Key: k}
	nodes := map[string]*store.NodeStats{}
	node := func(h string) *store.NodeStats {
		n := nodes[h]
		if n == nil {
			n = &store.NodeStats{}
			nodes[h] = n
		}
		return n
	}
	for name := range it {
		switch name {
		case aPK, aSK:
		case aStatRuns:
			st.Runs = getN(it, name)
		case store.ExecCompleted:
			st.Completed = getN(it, name)
		case store.ExecFailed:
			st.Failed = getN(it, name)
		case store.ExecCancelled:
			st.Cancelled = getN(it, name)
		case "dur_sum":
			st.DurationMSSum = getF(it, name)
		case "in_tok":
			st.InputTokens = getN(it, name)
		case "out_tok":
			st.OutputTokens = getN(it, name)
		case "cost":
			st.Cost = getF(it, name)
		case "cost_unknown":
			st.CostUnknown = getN(it, name)
		default:
			if b, ok := strings.CutPrefix(name, "h"); ok {
				i, err := bucket(b)
				if err != nil {
					return st, err
				}
				st.Duration[i] = getN(it, name)
				continue
			}
			if len(name) < 18 || name[0] != 'n' {
				continue // an attribute of a later version
			}
			n, rest := node(name[:17]), name[17:]
			switch {
			case rest == "i":
				n.NodeID = getS(it, name)
			case rest == "r":
				n.Runs = getN(it, name)
			case rest == "f":
				n.Failures = getN(it, name)
			case rest[0] == 'h':
				i, err := bucket(rest[1:])
				if err != nil {
					return st, err
				}
				n.Duration[i] = getN(it, name)
			}
		}
	}
	for _, n := range nodes {
		st.Nodes = append(st.Nodes, *n)
	}
	store.SortNodeStats(st.Nodes)
	return st, nil
}

func bucket(s string) (int, error) {
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= store.HistBuckets {
		return 0, errors.New("bad histogram bucket " + strconv.Quote(s))
	}
	return i, nil
}
