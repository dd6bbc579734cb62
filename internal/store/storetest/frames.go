package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// frames returns frames from..to of a token stream.
func frames(from, to int) []store.Frame {
	var out []store.Frame
	for i := from; i <= to; i++ {
		out = append(out, store.Frame{Seq: i, Type: "token", Data: fmt.Appendf(nil, `{"type":"token","content":"t%d"}`, i)})
	}
	return out
}

func frameSeqs(fs []store.Frame) []int {
	out := make([]int, len(fs))
	for i, f := range fs {
		out[i] = f.Seq
	}
	return out
}

func testFrames(t *testing.T, r Repo, c *Clock) {
	tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	user := uid("u")
	conv := chat(t, r, c, user, 1)
	exec, other := uid("ex"), uid("ex")
	for _, b := range [][2]int{{1, 16}, {17, 20}, {21, 21}} {
		must(t, "AppendFrames", r.AppendFrames(tctx, user, conv, exec, frames(b[0], b[1])))
	}
	must(t, "AppendFrames other", r.AppendFrames(tctx, user, conv, other, frames(1, 3)))
	for _, tt := range []struct{ after, want int }{{0, 21}, {5, 16}, {16, 5}, {20, 1}, {21, 0}, {99, 0}} {
		got, err := r.Frames(tctx, user, conv, exec, tt.after, 0)
		must(t, "Frames", err)
		if len(got) != tt.want {
			t.Fatalf("after %d: %d frames %v, want %d", tt.after, len(got), frameSeqs(got), tt.want)
		}
		for i, f := range got {
			if f.Seq != tt.after+1+i || f.Type != "token" || string(f.Data) != fmt.Sprintf(`{"type":"token","content":"t%d"}`, f.Seq) {
				t.Fatalf("after %d: frame %d is %+v", tt.after, i, f)
			}
		}
	}
	if got, err := r.Frames(tctx, "someone-else", conv, exec, 0, 0); err != nil || len(got) != 0 {
		t.Fatalf("another user's read: %d frames, %v; want none", len(got), err)
	}
	c.Advance(store.FrameTTL + time.Second)
	if got, err := r.Frames(tctx, user, conv, exec, 0, 0); err != nil || len(got) != 0 {
		t.Fatalf("after the TTL: %d frames, %v; want none", len(got), err)
	}
}

func testFramesDeleted(t *testing.T, r Repo, c *Clock) {
	tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	user := uid("u")
	conv := chat(t, r, c, user, 1)
	exec := uid("ex")
	must(t, "AppendFrames", r.AppendFrames(tctx, user, conv, exec, frames(1, 4)))
	if _, msgs, err := r.LoadConversation(tctx, user, conv, 10); err != nil || len(msgs) != 2 {
		t.Fatalf("frames in the partition changed the history: %d messages, %v", len(msgs), err)
	}
	must(t, "DeleteConversation", r.DeleteConversation(tctx, user, conv))
	if got, err := r.Frames(tctx, user, conv, exec, 0, 0); err != nil || len(got) != 0 {
		t.Fatalf("after the delete: %d frames, %v; want none", len(got), err)
	}
}

func testFramesOversize(t *testing.T, r Repo, c *Clock) {
	tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	user := uid("u")
	conv := chat(t, r, c, user, 1)
	big := []store.Frame{{Seq: 1, Type: "token", Data: []byte(`"` + strings.Repeat("x", store.MaxFrameBatchBytes) + `"`)}}
	err := r.AppendFrames(tctx, user, conv, uid("ex"), big)
	if code(err) != errcode.TooLarge {
		t.Fatalf("oversize batch: %v, want too_large", err)
	}
}
