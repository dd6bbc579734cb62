package dynamo

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatterhq/chatter/internal/store"
)

// A user's settings are one item (USER#u#SETTINGS / SETTINGS) with one JSON
// attribute per part, so configuring memory and tools at once never loses either
// write.
const (
	skSettings      = "SETTINGS"
	aMemorySettings = "memory"
	aToolSettings   = "tools"
)

func settingsKey(userID string) item { return key(userPrefix(userID)+"#SETTINGS", skSettings) }

// GetSettings returns userID's settings; empty when they configured nothing.
func (s *Store) GetSettings(ctx context.Context, userID string) (*store.Settings, error) {
	if userID == "" {
		return nil, store.Invalid("a user id is required")
	}
	it, err := s.get(ctx, settingsKey(userID))
	if err != nil {
		return nil, s.wrap("reading settings", err)
	}
	out := &store.Settings{}
	if v := getS(it, aMemorySettings); v != "" {
		out.Memory = &store.MemorySettings{}
		if err := json.Unmarshal([]byte(v), out.Memory); err != nil {
			return nil, s.wrap("decoding memory settings", err)
		}
	}
	if v := getS(it, aToolSettings); v != "" {
		out.Tools = &store.ToolSettings{}
		if err := json.Unmarshal([]byte(v), out.Tools); err != nil {
			return nil, s.wrap("decoding tool settings", err)
		}
	}
	return out, nil
}

// PutMemorySettings stores userID's memory settings, leaving the tool settings as
// they are.
func (s *Store) PutMemorySettings(ctx context.Context, userID string, m store.MemorySettings) error {
	return s.putSetting(ctx, userID, aMemorySettings, m)
}

// PutToolSettings stores userID's tool settings, leaving the memory settings as
// they are.
func (s *Store) PutToolSettings(ctx context.Context, userID string, t store.ToolSettings) error {
	return s.putSetting(ctx, userID, aToolSettings, t)
}

func (s *Store) putSetting(ctx context.Context, userID, attr string, v any) error {
	if userID == "" {
		return store.Invalid("a user id is required")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return store.Invalid("settings: %v", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: settingsKey(userID),
		UpdateExpression:          aws.String("SET #a = :v"),
		ExpressionAttributeNames:  map[string]string{"#a": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": sv(string(b))}})
	return s.wrap("storing settings", err)
}
