package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Ping proves the table answers a data-plane read: one eventually consistent GetItem
// of a key no record uses (half a read unit), with the read permission every
// resource function already has. It is the readiness check of GET /ready.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key("_ready", "_ready"),
		ConsistentRead: aws.Bool(false), ProjectionExpression: aws.String("#pk"),
		ExpressionAttributeNames: map[string]string{"#pk": aPK}})
	return s.wrap("ping", err)
}
