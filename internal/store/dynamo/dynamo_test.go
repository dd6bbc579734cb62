package dynamo_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter"
	"github.com/chatterhq/chatter/internal/executor"
	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/dynamo"
	"github.com/chatterhq/chatter/internal/store/dynamo/dynamotable"
	"github.com/chatterhq/chatter/internal/store/storetest"
	"github.com/chatterhq/chatter/internal/testenv"
)

var (
	_ executor.Store       = (*dynamo.Store)(nil)
	_ executor.Store       = (*store.Memory)(nil)
	_ storetest.Repo       = (*dynamo.Store)(nil)
	_ dynamo.API           = (*dynamodb.Client)(nil)
	_ dynamotable.TableAPI = (*dynamodb.Client)(nil)
)

func TestMain(m *testing.M) { testenv.Main(m) }

// counter counts DynamoDB API calls by operation, at the HTTP layer, so every call
// the SDK makes (retries included) is seen.
//
// It also lets one request at a time reach moto. moto's TransactWriteItems is not
// isolated: it snapshots the whole table, and a cancelled transaction restores the
// snapshot, undoing writes other requests committed meanwhile (and two transactions
// may pass their conditions together). DynamoDB applies each request atomically;
// serialising requests gives moto that property, while the store's goroutines still
// race between requests (read a version, lose it to another send, retry).
type counter struct {
	mu    sync.Mutex
	calls map[string]int
	total atomic.Int64
	next  http.RoundTripper
}

// motoMu serialises requests from every client of this test binary.
var motoMu sync.Mutex

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
	c.mu.Unlock()
	c.total.Add(1)
	motoMu.Lock()
	defer motoMu.Unlock()
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		// Read the body inside the lock: moto has finished the request once it is sent.
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		err = rerr
	}
	return resp, err
}

func (c *counter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.calls
	c.calls = map[string]int{}
	c.total.Store(0)
	return old
}

// client returns a DynamoDB client on the test endpoint and its call counter.
func client(t testing.TB) (*dynamodb.Client, *counter) {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	cnt := &counter{next: http.DefaultTransport}
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: cnt}
	return dynamodb.NewFromConfig(cfg), cnt
}

var (
	tableOnce sync.Once
	tableErr  error
	tableSeq  atomic.Int64
)

const sharedTable = "chatter-test"

// table creates the shared test table once per binary (each test works under its
// own user ids) and returns its name.
func table(t testing.TB) string {
	t.Helper()
	db, _ := client(t)
	tableOnce.Do(func() {
		tableErr = dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, sharedTable)
	})
	if tableErr != nil {
		t.Fatalf("CreateTable: %v", tableErr)
	}
	return sharedTable
}

// freshTable creates a table of its own, for tests that look at the whole table.
func freshTable(t testing.TB, db *dynamodb.Client) string {
	t.Helper()
	name := fmt.Sprintf("chatter-test-%d-%d", time.Now().UnixNano(), tableSeq.Add(1))
	if err := dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, name); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return name
}

func TestDynamo_RepositorySuite(t *testing.T) {
	name := table(t)
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) storetest.Repo {
		db, _ := client(t)
		return dynamo.New(db, name, dynamo.Options{Now: c.Now, MaxContentBytes: storetest.MaxContent})
	})
}

func TestCreateTable_BuildsTheTemplatesTableAndIsIdempotent(t *testing.T) {
	db, _ := client(t)
	name := freshTable(t, db)
	if err := dynamotable.CreateTable(context.Background(), db, chatter.TemplateYAML, name); err != nil {
		t.Fatalf("CreateTable on an existing table: %v", err)
	}
	d, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	tb := d.Table
	if tb.TableStatus != types.TableStatusActive {
		t.Errorf("status %s, want ACTIVE", tb.TableStatus)
	}
	if tb.BillingModeSummary == nil || tb.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %+v, want PAY_PER_REQUEST", tb.BillingModeSummary)
	}
	keys := func(ks []types.KeySchemaElement) string {
		var out []string
		for _, k := range ks {
			out = append(out, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		return strings.Join(out, ",")
	}
	if got := keys(tb.KeySchema); got != "PK:HASH,SK:RANGE" {
		t.Errorf("key schema %s", got)
	}
	gsis := map[string]string{}
	for _, g := range tb.GlobalSecondaryIndexes {
		gsis[aws.ToString(g.IndexName)] = keys(g.KeySchema) + " " + string(g.Projection.ProjectionType)
	}
	want := map[string]string{"GSI1": "GSI1PK:HASH,GSI1SK:RANGE ALL", "GSI2": "GSI2PK:HASH,GSI2SK:RANGE KEYS_ONLY"}
	if !maps.Equal(gsis, want) {
		t.Errorf("GSIs %v, want %v (GSI1 for lists, the sparse GSI2 for the sweep)", gsis, want)
	}
	ttl, err := db.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled ||
		aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expires_at" {
		t.Errorf("TTL %+v, want enabled on expires_at", ttl.TimeToLiveDescription)
	}
	pitr, err := db.DescribeContinuousBackups(context.Background(), &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if p := pitr.ContinuousBackupsDescription.PointInTimeRecoveryDescription; p == nil ||
		p.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		t.Errorf("point-in-time recovery %+v, want enabled", p)
	}
}

func TestParseTableSpec_ReadsShortTagsAndRefusesOtherShapes(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"the project's template", string(chatter.TemplateYAML), ""},
		{"short tags everywhere", `
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "x-${AWS::StackName}"
      Tags: [{Key: a, Value: !Ref Stage}, {Key: b, Value: !GetAtt [Bus, Arn]}]
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: PK, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: PK, AttributeType: S}]
`, ""},
		{"no table", "Resources:\n  Bus:\n    Type: AWS::Events::EventBus\n", "0 AWS::DynamoDB::Table"},
		{"two tables", `
Resources:
  A: {Type: AWS::DynamoDB::Table, Properties: {BillingMode: PAY_PER_REQUEST, KeySchema: [{AttributeName: PK, KeyType: HASH}]}}
  B: {Type: AWS::DynamoDB::Table, Properties: {BillingMode: PAY_PER_REQUEST, KeySchema: [{AttributeName: PK, KeyType: HASH}]}}
`, "2 AWS::DynamoDB::Table"},
		{"provisioned", `
Resources:
  A: {Type: AWS::DynamoDB::Table, Properties: {BillingMode: PROVISIONED, KeySchema: [{AttributeName: PK, KeyType: HASH}]}}
`, "PAY_PER_REQUEST"},
		{"not yaml", "Resources: [", "parsing template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := dynamotable.ParseTableSpec([]byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil || len(spec.KeySchema) == 0 {
					t.Fatalf("ParseTableSpec: %+v, %v", spec, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestList_ForgedCursorIssuesNoQuery(t *testing.T) {
	db, cnt := client(t)
	s := dynamo.New(db, table(t), dynamo.Options{})
	ctx := context.Background()
	cnt.reset()
	_, err := s.ListConversations(ctx, "u", store.PageRequest{Cursor: "eyJQSyI6IlVTRVIjdmljdGltIn0.AAAAAAAAAAAAAAAAAAAAAA"})
	if store.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("forged cursor: %v, want invalid", err)
	}
	_, err = s.ListMessages(ctx, "u", "c", store.PageRequest{Cursor: "x.y"})
	if store.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("forged cursor: %v, want invalid", err)
	}
	if calls := cnt.reset(); len(calls) != 0 {
		t.Fatalf("a forged cursor reached DynamoDB: %v", calls)
	}
}

func TestStore_CursorKeySharedAcrossInstances(t *testing.T) {
	db, _ := client(t)
	name := table(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	a := dynamo.New(db, name, dynamo.Options{CursorKey: key})
	b := dynamo.New(db, name, dynamo.Options{CursorKey: key})
	other := dynamo.New(db, name, dynamo.Options{CursorKey: []byte("another key entirely, 32 bytes!!")})
	ctx := context.Background()
	user := fmt.Sprintf("u-%d", time.Now().UnixNano())
	for i := range 3 {
		if err := a.CreateExecution(ctx, &store.Execution{ID: fmt.Sprintf("e%d", i), UserID: user, Status: store.ExecRunning}); err != nil {
			t.Fatal(err)
		}
	}
	pg, err := a.ListExecutions(ctx, user, store.ExecutionFilter{}, store.PageRequest{Limit: 2})
	if err != nil || pg.Next == "" {
		t.Fatalf("first page %+v %v", pg, err)
	}
	pg2, err := b.ListExecutions(ctx, user, store.ExecutionFilter{}, store.PageRequest{Limit: 2, Cursor: pg.Next})
	if err != nil || len(pg2.Items) != 1 || pg2.Items[0].ID != "e0" {
		t.Fatalf("second page on another instance with the same key: %+v %v", pg2, err)
	}
	if _, err := other.ListExecutions(ctx, user, store.ExecutionFilter{}, store.PageRequest{Limit: 2, Cursor: pg.Next}); store.CodeOf(err) != errcode.InvalidInput {
		t.Fatalf("cursor under another key: %v, want invalid", err)
	}
}
