package library

import (
	"context"
	"encoding/json"
	"fmt"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/chatterhq/chatter/internal/documents/blob"
)

// The S3 event the ingest takes, as EventBridge delivers it.
const (
	EventSource       = "aws.s3"
	EventObjectCreate = "Object Created"
)

// ObjectCreated is the detail of S3's "Object Created" event (the fields used).
type ObjectCreated struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		Size      int64  `json:"size"`
		ETag      string `json:"etag"`
		VersionID string `json:"version-id"`
		Sequencer string `json:"sequencer"`
	} `json:"object"`
	Reason string `json:"reason"`
}

// ObjectCreatedEvent builds the envelope S3 sends for an object stored in bucket
// (the dev stack and tests deliver it as EventBridge would).
func ObjectCreatedEvent(bucket, key, etag string, size int64) awsevents.CloudWatchEvent {
	var d ObjectCreated
	d.Bucket.Name, d.Object.Key, d.Object.ETag, d.Object.Size, d.Reason = bucket, key, etag, size, "PutObject"
	b, _ := json.Marshal(d)
	return awsevents.CloudWatchEvent{Version: "0", Source: EventSource, DetailType: EventObjectCreate,
		Resources: []string{"arn:aws:s3:::" + bucket}, Detail: b}
}

// HandleEvent is the ingest function: one EventBridge envelope. An event that is
// not an object created in bucket, or whose key is not a document's, is logged and
// dropped (a retry could not make it one); otherwise it is Ingest's to do.
func (l *Library) HandleEvent(bucket string) func(ctx context.Context, ev awsevents.CloudWatchEvent) error {
	return func(ctx context.Context, ev awsevents.CloudWatchEvent) error {
		var d ObjectCreated
		if ev.Source != EventSource || ev.DetailType != EventObjectCreate {
			l.o.Logger.Warn("ingest: not an S3 Object Created event; dropped", "source", ev.Source, "detail_type", ev.DetailType)
			return nil
		}
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			l.o.Logger.Warn("ingest: unreadable event detail; dropped", "err", err)
			return nil
		}
		if d.Bucket.Name != bucket {
			l.o.Logger.Warn("ingest: event of another bucket; dropped", "bucket", d.Bucket.Name)
			return nil
		}
		user, doc, ok := blob.ParseKey(d.Object.Key)
		if !ok {
			l.o.Logger.Warn("ingest: not a document's key; dropped", "key", d.Object.Key)
			return nil
		}
		if err := l.Ingest(ctx, user, doc); err != nil {
			return fmt.Errorf("ingest of %s (etag %s): %w", doc, d.Object.ETag, err)
		}
		return nil
	}
}
