package storetest

import (
	"testing"
	"time"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
)

// testSettings: a user with no settings has empty ones; memory and tool settings
// are stored apart (writing one never loses the other), a write replaces its part,
// and another user's settings are their own.
func testSettings(t *testing.T, r Repo, c *Clock) {
	alice, bob := uid("alice"), uid("bob")
	s, err := r.GetSettings(ctx, alice)
	must(t, "get empty", err)
	if s.Memory != nil || s.Tools != nil {
		t.Fatalf("settings of a new user = %+v, want empty", s)
	}
	at := c.Now().UTC()
	mem := store.MemorySettings{AdaptiveMode: true, BaseWindowSize: 8, MaxWindowSize: 30, SummaryStrategy: "intelligent", UpdatedAt: at}
	tools := store.ToolSettings{MaxTotalCalls: 7, MaxConsecutiveCalls: 2, RecursionStrategy: "strict", UpdatedAt: at}
	must(t, "put memory", r.PutMemorySettings(ctx, alice, mem))
	must(t, "put tools", r.PutToolSettings(ctx, alice, tools))
	s, err = r.GetSettings(ctx, alice)
	must(t, "get", err)
	if s.Memory == nil || !s.Memory.UpdatedAt.Equal(at) || s.Memory.BaseWindowSize != 8 || s.Memory.SummaryStrategy != "intelligent" ||
		s.Tools == nil || s.Tools.MaxTotalCalls != 7 || s.Tools.RecursionStrategy != "strict" || s.Tools.EnableRecursionDetection {
		t.Fatalf("settings = %+v %+v", s.Memory, s.Tools)
	}
	mem.BaseWindowSize, mem.UpdatedAt = 12, at.Add(time.Minute)
	must(t, "replace memory", r.PutMemorySettings(ctx, alice, mem))
	s, err = r.GetSettings(ctx, alice)
	must(t, "get replaced", err)
	if s.Memory.BaseWindowSize != 12 || s.Tools == nil || s.Tools.MaxTotalCalls != 7 {
		t.Fatalf("after replacing memory: %+v %+v", s.Memory, s.Tools)
	}
	s.Memory.BaseWindowSize = 99 // a read is a copy
	if again, _ := r.GetSettings(ctx, alice); again.Memory.BaseWindowSize != 12 {
		t.Fatalf("changing a read changed the store: %+v", again.Memory)
	}
	if b, err := r.GetSettings(ctx, bob); err != nil || b.Memory != nil || b.Tools != nil {
		t.Fatalf("bob's settings = %+v %v", b, err)
	}
	wantCode(t, "no user", r.PutToolSettings(ctx, "", tools), errcode.InvalidInput)
}
