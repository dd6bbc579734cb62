package dynamo

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// A batch of a run's frames is one item in the conversation's partition, sort key
// "#FR#<exec>#<last seq, 10 digits>" (before "#MSG#", so message reads never meet
// them), the frames as JSON in "frames", and the TTL attribute.
const (
	framePfx = "#FR#"
	aFrames  = "frames"
	aExpires = "expires" // the exact expiry reads honour; TTL removes the item within days
)

func frameSK(execID string, seq int) string {
	return framePfx + execID + "#" + fmt.Sprintf("%010d", seq)
}

var _ store.FrameLog = (*Store)(nil)

// AppendFrames stores one batch of frames as one PutItem (store.FrameLog).
func (s *Store) AppendFrames(ctx context.Context, userID, convID, execID string, frames []store.Frame) error {
	if len(frames) == 0 {
		return nil
	}
	n := 0
	for _, f := range frames {
		n += store.FrameSize(f)
	}
	if n > store.MaxFrameBatchBytes {
		return &store.Error{Code: errcode.TooLarge, Message: fmt.Sprintf("a frame batch of %d bytes is over %d", n, store.MaxFrameBatchBytes)}
	}
	body, err := json.Marshal(frames)
	if err != nil {
		return fmt.Errorf("dynamo: encoding frames: %w", err)
	}
	exp := s.now().Add(store.FrameTTL)
	it := key(convPK(userID, convID), frameSK(execID, frames[len(frames)-1].Seq))
	it[aFrames] = &types.AttributeValueMemberB{Value: body}
	it[aExpires] = sv(store.TimeKey(exp))
	it[aTTL] = nv(exp.Unix() + 1)
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it})
	return s.wrap("storing frames", err)
}

// Frames reads an execution's frames after a seq in one Query from the batch that
// holds after+1 (store.FrameLog).
func (s *Store) Frames(ctx context.Context, userID, convID, execID string, after, limit int) ([]store.Frame, error) {
	in := &dynamodb.QueryInput{TableName: &s.table,
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk BETWEEN :a AND :b"),
		ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#sk": aSK},
		ExpressionAttributeValues: item{":pk": sv(convPK(userID, convID)), ":a": sv(frameSK(execID, after+1)), ":b": sv(framePfx + execID + "#~")},
		ConsistentRead:            aws.Bool(true)}
	now := store.TimeKey(s.now())
	var out []store.Frame
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, s.wrap("reading frames", err)
		}
		for _, it := range page.Items {
			if getS(it, aExpires) <= now {
				continue
			}
			b, _ := it[aFrames].(*types.AttributeValueMemberB)
			if b == nil {
				continue
			}
			var fs []store.Frame
			if err := json.Unmarshal(b.Value, &fs); err != nil {
				return nil, fmt.Errorf("dynamo: decoding frames of %s: %w", execID, err)
			}
			for _, f := range fs {
				if f.Seq > after {
					out = append(out, f)
				}
			}
		}
		if page.LastEvaluatedKey == nil || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
