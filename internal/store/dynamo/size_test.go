package dynamo

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/store"
)

const maxItemBytes = 400 << 10 // DynamoDB's item limit

// itemSize measures an item as DynamoDB does: the UTF-8 bytes of every attribute
// name and string value, a number as its digits plus one (an upper bound), a
// boolean as one byte.
func itemSize(it item) int {
	n := 0
	for name, v := range it {
		n += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += len(v.Value) + 1
		case *types.AttributeValueMemberBOOL:
			n++
		}
	}
	return n
}

// keySize is what an item holds besides its record: keys, index keys, the
// attributes that copy fields for filters and conditions, and every attribute name.
func keySize(it item, extra ...string) int {
	n := 0
	for _, name := range append([]string{aPK, aSK, aGSI1PK, aGSI1SK}, extra...) {
		if v, ok := it[name].(*types.AttributeValueMemberS); ok {
			n += len(v.Value)
		}
	}
	for name := range it {
		n += len(name)
	}
	return n
}

// The store measures a record as its item is written: after PrepareMessage and
// PrepareExecution, the items of records whose every part is far over its budget
// (in characters JSON escapes) are within store's measure plus their keys, and
// within DynamoDB's limit.
func TestItems_AreMeasuredAsTheStoreMeasuresThem(t *testing.T) {
	esc := func(n int) string { return strings.Repeat("<\"\\\x01é", n/6) }
	args, _ := json.Marshal(map[string]string{"q": esc(99 << 10)})
	var calls []store.ToolCallRecord
	for range 6 {
		calls = append(calls, store.ToolCallRecord{ID: esc(1 << 10), Name: "t", Arguments: args, Result: esc(99 << 10)})
	}
	now := time.Now()
	m := &store.Message{ID: "m", ConversationID: "c", UserID: "u", ExecutionID: "e", Seq: 7, Role: llm.RoleAssistant,
		Content: esc(400 << 10), ToolCalls: calls, Status: store.StatusComplete, Model: esc(4 << 10), CreatedAt: now}
	if err := store.PrepareMessage(m, store.MaxContentLimit); err != nil {
		t.Fatalf("PrepareMessage: %v", err)
	}
	mi, err := msgItem(m)
	if err != nil {
		t.Fatal(err)
	}
	if got, bound := itemSize(mi), store.MessageSize(m)+keySize(mi); got > bound || got > maxItemBytes {
		t.Errorf("message item is %d bytes; the store measured %d with its keys, DynamoDB allows %d", got, bound, maxItemBytes)
	}

	var log []store.NodeRun
	for range 3000 {
		log = append(log, store.NodeRun{NodeID: esc(300), Kind: "llm", Status: "error", Error: esc(2 << 10), Detail: esc(1 << 10), StartedAt: now})
	}
	e := &store.Execution{ID: "e", UserID: "u", ConversationID: "c", Source: store.SourceRef{Kind: "definition", ID: "d", Name: esc(4 << 10)},
		Status: store.ExecFailed, StartedAt: now, FinishedAt: now, Output: esc(800 << 10), Log: log, ToolCallRecords: calls,
		ErrorMessage: esc(300 << 10), Model: esc(4 << 10), Metadata: map[string]any{"a": esc(200 << 10), "b": []any{esc(100 << 10), 1}}}
	if err := store.PrepareExecution(e, store.MaxContentLimit); err != nil {
		t.Fatalf("PrepareExecution: %v", err)
	}
	ei, err := execItem(e)
	if err != nil {
		t.Fatal(err)
	}
	if got, bound := itemSize(ei), store.ExecutionSize(e)+keySize(ei, "status", "source_kind", "source_id", aRev); got > bound || got > maxItemBytes {
		t.Errorf("execution item is %d bytes; the store measured %d with its keys, DynamoDB allows %d", got, bound, maxItemBytes)
	}
}
