package dynamo_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store/dynamo"
)

// targets answers every request with an empty JSON object and records the
// operation it named (X-Amz-Target, "DynamoDB_20120810.<Operation>").
type targets []string

func (t *targets) RoundTrip(r *http.Request) (*http.Response, error) {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	*t = append(*t, op)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

func TestClientAPI_CallsTheClientsOperationOfTheSameName(t *testing.T) {
	var seen targets
	c := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://dynamodb.test"),
		Credentials: aws.AnonymousCredentials{}, HTTPClient: &http.Client{Transport: &seen}})
	api, ctx, table := dynamo.ClientAPI(c), context.Background(), aws.String("t")
	key := map[string]types.AttributeValue{}
	calls := []struct {
		op   string
		call func() error
	}{
		{"GetItem", func() error {
			_, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key})
			return err
		}},
		{"PutItem", func() error {
			_, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: key})
			return err
		}},
		{"UpdateItem", func() error {
			_, err := api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key})
			return err
		}},
		{"DeleteItem", func() error {
			_, err := api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: key})
			return err
		}},
		{"Query", func() error { _, err := api.Query(ctx, &dynamodb.QueryInput{TableName: table}); return err }},
		{"BatchGetItem", func() error {
			_, err := api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{}})
			return err
		}},
		{"BatchWriteItem", func() error {
			_, err := api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{}})
			return err
		}},
		{"TransactWriteItems", func() error {
			_, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{}})
			return err
		}},
	}
	for _, c := range calls {
		seen = nil
		if err := c.call(); err != nil {
			t.Errorf("%s: %v", c.op, err)
		}
		if len(seen) != 1 || seen[0] != c.op {
			t.Errorf("%s sent %q, want one %s", c.op, seen, c.op)
		}
	}
}
