package executor

import (
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestIDBlock_ValidSortedUniqueULIDsOfTheirTime(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		ids := make([]string, runIDs)
		idBlock(now, ids)
		if len(ids) != runIDs || !slices.IsSorted(ids) {
			t.Fatalf("block %v: want %d ids in order", ids, runIDs)
		}
		for _, id := range ids {
			u, err := ulid.ParseStrict(id)
			if err != nil || !ulid.Time(u.Time()).Equal(now) {
				t.Fatalf("id %q: %v, time %v", id, err, ulid.Time(u.Time()))
			}
			if seen[id] {
				t.Fatalf("id %q twice", id)
			}
			seen[id] = true
		}
	}
	out := make([]string, runIDs)
	if n := testing.AllocsPerRun(100, func() { idBlock(now, out) }); n > 1 {
		t.Errorf("a block costs %v allocations, want at most 1", n)
	}
}
