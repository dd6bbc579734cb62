package executor

import (
	"bytes"
	"math/rand/v2"
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

// TestIncrementText_IsTheTextOfTheNextULID checks the text increment against the
// bytes': ULID u's text plus one is the text of u with its 80-bit entropy plus one,
// wrapping within the entropy, for random values and the carries' edges.
func TestIncrementText_IsTheTextOfTheNextULID(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var cases []ulid.ULID
	for range 2000 {
		var u ulid.ULID
		for i := range u {
			u[i] = byte(r.Uint32())
		}
		u[0] &= 0x7f // a time ulid can encode
		cases = append(cases, u)
	}
	for _, tail := range [][]byte{{0xff}, {0xff, 0xff}, {0x1f}, bytes.Repeat([]byte{0xff}, 10)} {
		u := cases[0]
		copy(u[16-len(tail):], tail)
		cases = append(cases, u)
	}
	for _, u := range cases {
		text := []byte(u.String())
		incrementText(text)
		next := u
		for i := len(next) - 1; i >= 6; i-- {
			next[i]++
			if next[i] != 0 {
				break
			}
		}
		if string(text) != next.String() {
			t.Fatalf("%s plus one: text %s, want %s", u, text, next)
		}
	}
}
