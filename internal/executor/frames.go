package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Resumable streams. A streaming run started with on_disconnect continue
// (Request.OnDisconnect) is not cancelled when its sink fails (the client went
// away; the caller's cancellation is ignored too, its deadline kept): it runs to
// its end and stores everything as usual, and its chunks — every SSE frame, with
// its seq as id — go to the frame log (Options.Frames, store.FrameLog) as well as
// to the sink. Frames are written in batches, never one write per token: a batch
// is written once it holds FrameBatch frames or FrameBatchBytes, FrameFlush after
// its first frame, and at the run's end (after the done frame). A run keeps at
// most store.MaxKeptFrameBytes; past that, or after a failed write, it keeps no
// more (a reconnecting client then follows the run to its terminal status without
// the rest of the frames). Standard runs and on_disconnect cancel runs keep none.
const (
	FrameBatch      = 16
	FrameBatchBytes = 64 << 10
	FrameFlush      = 250 * time.Millisecond
	// frameWriteTimeout bounds one batch write.
	frameWriteTimeout = 5 * time.Second
)

// detach returns ctx without its cancellation but with its deadline (a Lambda's
// end still ends the run, with its finish reserve).
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithoutCancel(ctx), func() {}
	}
	c := new(deadlineCtx)
	c.initDetached(ctx, dl)
	return c, c.cancel
}

// frameLog buffers one run's frames and writes them in batches.
type frameLog struct {
	ctx context.Context
	r   *run

	mu      sync.Mutex
	buf     []store.Frame
	bytes   int // in buf
	kept    int // bytes written or buffered
	timer   *time.Timer
	stopped bool // over the bound, a failed write, or closed
}

func newFrameLog(ctx context.Context, r *run) *frameLog { return &frameLog{ctx: ctx, r: r} }

// add buffers c (numbered) and writes the batch when it is full.
func (l *frameLog) add(c wire.Chunk) {
	data, err := json.Marshal(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	f := store.Frame{Seq: c.Seq, Type: c.Type, Data: data}
	n := store.FrameSize(f)
	if err != nil || l.kept+n > store.MaxKeptFrameBytes || n > store.MaxFrameBatchBytes {
		l.stopLocked("frame log bound reached; later frames are not kept", err)
		return
	}
	if l.bytes+n > FrameBatchBytes {
		l.flushLocked()
		if l.stopped {
			return
		}
	}
	l.buf = append(l.buf, f)
	l.bytes += n
	l.kept += n
	switch {
	case len(l.buf) >= FrameBatch:
		l.flushLocked()
	case l.timer == nil:
		l.timer = time.AfterFunc(FrameFlush, l.flush)
	}
}

func (l *frameLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

// flushLocked writes the buffered batch; l.mu is held.
func (l *frameLog) flushLocked() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.buf) == 0 || l.stopped {
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, frameWriteTimeout)
	defer cancel()
	r := l.r
	err := r.x.o.Frames.AppendFrames(ctx, r.userID, r.convID, r.id, l.buf)
	l.buf, l.bytes = nil, 0
	if err != nil {
		l.stopLocked("storing stream frames failed; later frames are not kept", err)
	}
}

// stopLocked keeps no more frames; l.mu is held.
func (l *frameLog) stopLocked(msg string, err error) {
	l.stopped, l.buf, l.bytes = true, nil, 0
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.r.x.o.Logger.Warn(msg, "execution_id", l.r.id, "err", err)
}

// close writes what is buffered; later adds keep nothing.
func (l *frameLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	l.stopped = true
}

// followGrace is how many more reads Follow makes for the done frame once the run
// is over without it (its last batch lands just after the terminal record).
const followGrace = 3

// Follow sends the kept frames of the caller's execution id with seq > after, in
// order, then follows the live run — one read per FollowPoll: the frame log, or
// the record when the last read brought no frame — until its done frame, or its
// terminal status and followGrace reads more. It never starts a run; a finished
// run replays only. Returns not_found for another user's execution, conflict for
// one that kept no frames (a standard run, or streaming with on_disconnect
// cancel), conversation_deleted (410) for one whose conversation was deleted, and
// send's error (the client went away).
func (x *Executor) Follow(ctx context.Context, userID, id string, after int, send func(store.Frame) error) error {
	e, err := x.o.Store.GetExecution(ctx, userID, id)
	if err != nil {
		return err
	}
	if e.Redacted { // its conversation was deleted: so is what it streamed
		return &store.Error{Code: errcode.ConversationDeleted, Message: fmt.Sprintf("execution %s: its conversation was deleted", id)}
	}
	if !e.KeepsFrames || x.o.Frames == nil {
		return store.Conflict("execution %s kept no stream frames: only a streaming run started with on_disconnect %q can be resumed",
			id, wire.OnDisconnectContinue)
	}
	over, grace, readFrames := e.Status != store.ExecRunning, 0, true
	if over {
		grace = followGrace // a finished run replays what is kept, and ends
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if readFrames {
			fs, err := x.o.Frames.Frames(ctx, userID, e.ConversationID, id, after, 0)
			if err != nil {
				return err
			}
			for _, f := range fs {
				if err := send(f); err != nil {
					return err
				}
				after = f.Seq
				if f.Type == wire.ChunkDone {
					return nil
				}
			}
			if over {
				if grace++; grace > followGrace {
					return nil
				}
			}
			// Nothing new: the next read asks whether the run is still going.
			readFrames = len(fs) > 0 || over
		} else {
			e, err = x.o.Store.GetExecution(ctx, userID, id)
			if err != nil {
				return err
			}
			over, readFrames = e.Status != store.ExecRunning, true
		}
		t.Reset(x.o.FollowPoll)
	}
}
