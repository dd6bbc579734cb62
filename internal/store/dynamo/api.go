package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClientAPI is the API of c held as method values rather than as c itself, so no
// interface holds a *dynamodb.Client: once a binary calls reflect.Value.MethodByName
// (expr-lang does, for the workflow conditions) the linker keeps every exported
// method of every type that reaches an interface, and for the client that is all of
// DynamoDB's ~60 operations with their serializers (some 4 MiB). Pass it to New in
// place of the client.
func ClientAPI(c *dynamodb.Client) API {
	return methods{c.GetItem, c.PutItem, c.UpdateItem, c.DeleteItem, c.Query, c.BatchGetItem,
		c.BatchWriteItem, c.TransactWriteItems}
}

type (
	opts = func(*dynamodb.Options)

	methods struct {
		getItem            func(context.Context, *dynamodb.GetItemInput, ...opts) (*dynamodb.GetItemOutput, error)
		putItem            func(context.Context, *dynamodb.PutItemInput, ...opts) (*dynamodb.PutItemOutput, error)
		updateItem         func(context.Context, *dynamodb.UpdateItemInput, ...opts) (*dynamodb.UpdateItemOutput, error)
		deleteItem         func(context.Context, *dynamodb.DeleteItemInput, ...opts) (*dynamodb.DeleteItemOutput, error)
		query              func(context.Context, *dynamodb.QueryInput, ...opts) (*dynamodb.QueryOutput, error)
		batchGetItem       func(context.Context, *dynamodb.BatchGetItemInput, ...opts) (*dynamodb.BatchGetItemOutput, error)
		batchWriteItem     func(context.Context, *dynamodb.BatchWriteItemInput, ...opts) (*dynamodb.BatchWriteItemOutput, error)
		transactWriteItems func(context.Context, *dynamodb.TransactWriteItemsInput, ...opts) (*dynamodb.TransactWriteItemsOutput, error)
	}
)

func (m methods) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...opts) (*dynamodb.GetItemOutput, error) {
	return m.getItem(ctx, in, o...)
}

func (m methods) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...opts) (*dynamodb.PutItemOutput, error) {
	return m.putItem(ctx, in, o...)
}

func (m methods) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...opts) (*dynamodb.UpdateItemOutput, error) {
	return m.updateItem(ctx, in, o...)
}

func (m methods) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...opts) (*dynamodb.DeleteItemOutput, error) {
	return m.deleteItem(ctx, in, o...)
}

func (m methods) Query(ctx context.Context, in *dynamodb.QueryInput, o ...opts) (*dynamodb.QueryOutput, error) {
	return m.query(ctx, in, o...)
}

func (m methods) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...opts) (*dynamodb.BatchGetItemOutput, error) {
	return m.batchGetItem(ctx, in, o...)
}

func (m methods) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...opts) (*dynamodb.BatchWriteItemOutput, error) {
	return m.batchWriteItem(ctx, in, o...)
}

func (m methods) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...opts) (*dynamodb.TransactWriteItemsOutput, error) {
	return m.transactWriteItems(ctx, in, o...)
}
