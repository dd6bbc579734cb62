package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
)

// A waiting run's checkpoint is one item in its conversation's partition, sort key
// "#CK#<exec>" (before "#FR#" and "#MSG#", so message reads never meet it), the
// state in "checkpoint", the exact expiry in "expires" and the TTL attribute
// (store.Checkpoints).
const (
	checkpointPfx = "#CK#"
	aCheckpoint   = "checkpoint"
)

var _ store.Checkpoints = (*Store)(nil)

// PutCheckpoint stores a checkpoint as one PutItem (store.Checkpoints).
func (s *Store) PutCheckpoint(ctx context.Context, userID, convID, execID string, data []byte, expires time.Time) error {
	if err := store.CheckCheckpoint(data); err != nil {
		return err
	}
	it := key(convPK(userID, convID), checkpointPfx+execID)
	it[aCheckpoint] = &types.AttributeValueMemberB{Value: data}
	it[aExpires] = sv(store.TimeKey(expires))
	it[aTTL] = nv(expires.Unix() + 1)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it})
	return s.wrap("storing the checkpoint", err)
}

// Checkpoint reads a checkpoint, consistently (store.Checkpoints).
func (s *Store) Checkpoint(ctx context.Context, userID, convID, execID string) ([]byte, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table,
		Key: key(convPK(userID, convID), checkpointPfx+execID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, s.wrap("reading the checkpoint", err)
	}
	b, _ := out.Item[aCheckpoint].(*types.AttributeValueMemberB)
	if b == nil || getS(out.Item, aExpires) <= store.TimeKey(s.now()) {
		return nil, store.NotFound("checkpoint of execution", execID)
	}
	return b.Value, nil
}
