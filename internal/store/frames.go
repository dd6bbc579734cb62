package store

import (
	"context"
	"time"
)

// The frame log keeps a resumable streaming run's SSE frames (a run started with
// on_disconnect continue) so a client that went away can read what it missed and
// follow the rest: GET /api/v1/executions/{id}/stream with Last-Event-ID. Frames
// live in the conversation's partition (a conversation delete removes them with
// it) and expire FrameTTL after they were written (DynamoDB's TTL on expires_at;
// reads honour the exact expiry). A run's frames are written in batches, one item
// per batch keyed by the batch's last seq, so reading "after id n" is one Query
// from n. Standard runs and on_disconnect cancel runs keep no frames: nobody can
// reconnect to a run that ends when its client goes. A batch written after its
// conversation was deleted (a run still ending) is left to the TTL: nothing reads
// it (Follow refuses a redacted execution).

// Frame is one kept SSE frame: its id (the chunk's seq), its event type and its
// data (the chunk's JSON, exactly as the original stream sent it).
type Frame struct {
	Seq  int    `json:"seq"`
	Type string `json:"type"`
	Data []byte `json:"data"`
}

const (
	// FrameTTL is how long a run's frames are kept after they were written.
	FrameTTL = 24 * time.Hour
	// MaxFrameBatchBytes bounds one batch (one item) of frames, well under
	// DynamoDB's 400 KB item limit.
	MaxFrameBatchBytes = 256 << 10
	// MaxKeptFrameBytes bounds what one run keeps; frames past it are not kept
	// (a reconnecting client then follows the run to its terminal status only).
	MaxKeptFrameBytes = 4 << 20
)

// FrameSize is the bytes a frame counts toward MaxFrameBatchBytes and
// MaxKeptFrameBytes.
func FrameSize(f Frame) int { return len(f.Data) + len(f.Type) + 16 }

// FrameLog is the frame log's store: AppendFrames writes one batch, Frames reads.
type FrameLog interface {
	// AppendFrames stores one batch of an execution's frames (seqs ascending) in
	// conversation convID. Returns too_large over MaxFrameBatchBytes.
	AppendFrames(ctx context.Context, userID, convID, execID string, frames []Frame) error
	// Frames returns the execution's unexpired frames with seq > after, oldest
	// first, at most limit of them (whole batches: a few more may come).
	Frames(ctx context.Context, userID, convID, execID string, after, limit int) ([]Frame, error)
}
