package store

import (
	"context"
	"fmt"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// A checkpoint is the state of a run waiting at a human node (status waiting): what
// the run needs to go on in a new invocation — what it added to the conversation so
// far, its variables, its position in the graph and its counters — as the executor
// encodes it (opaque here). It is one item in the conversation's partition, beside
// the run's frames, so deleting the conversation deletes it with the content it
// holds; it expires CheckpointGrace after the run's wait deadline (the sweeper ends
// the run at the deadline; the grace only keeps the item for a resume racing it).
// It is written before the record says waiting and read only after a resume moved
// the record from waiting to running, so a resume never meets a half-written wait.

const (
	// MaxCheckpointBytes bounds one checkpoint (one item, under DynamoDB's 400 KB).
	// A run whose state is larger fails at the human node (too_large) instead of
	// waiting with a state it could not keep.
	MaxCheckpointBytes = MaxRecordBytes
	// CheckpointGrace is how long a checkpoint outlives its run's wait deadline.
	CheckpointGrace = time.Hour
)

// Checkpoints stores waiting runs' checkpoints.
type Checkpoints interface {
	// PutCheckpoint stores (or replaces) execution execID's checkpoint in
	// conversation convID, kept until expires. Returns too_large over
	// MaxCheckpointBytes.
	PutCheckpoint(ctx context.Context, userID, convID, execID string, data []byte, expires time.Time) error
	// Checkpoint returns it. Returns not_found when there is none (never written,
	// expired, or its conversation deleted).
	Checkpoint(ctx context.Context, userID, convID, execID string) ([]byte, error)
}

// CheckCheckpoint refuses a checkpoint over MaxCheckpointBytes (both stores).
func CheckCheckpoint(data []byte) error {
	if len(data) > MaxCheckpointBytes {
		return &Error{Code: errcode.TooLarge, Field: "checkpoint",
			Message: fmt.Sprintf("the run's state (%d bytes) is over the %d bytes a waiting run may keep", len(data), MaxCheckpointBytes)}
	}
	return nil
}

// memCheckpoint is one kept checkpoint of the in-memory store.
type memCheckpoint struct {
	data    []byte
	expires time.Time
}

var _ Checkpoints = (*Memory)(nil)

// PutCheckpoint stores a checkpoint (Checkpoints).
func (m *Memory) PutCheckpoint(_ context.Context, userID, convID, execID string, data []byte, expires time.Time) error {
	if err := CheckCheckpoint(data); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.checkpoints == nil {
		m.checkpoints = map[key]map[string]memCheckpoint{}
	}
	k := ck(userID, convID)
	if m.checkpoints[k] == nil {
		m.checkpoints[k] = map[string]memCheckpoint{}
	}
	m.checkpoints[k][execID] = memCheckpoint{data: append([]byte(nil), data...), expires: expires}
	return nil
}

// Checkpoint returns a checkpoint (Checkpoints).
func (m *Memory) Checkpoint(_ context.Context, userID, convID, execID string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.checkpoints[ck(userID, convID)][execID]
	if !ok || !m.now().Before(c.expires) {
		return nil, NotFound("checkpoint of execution", execID)
	}
	return append([]byte(nil), c.data...), nil
}
