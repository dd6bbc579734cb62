package executor

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// runIDs is how many ids a run takes at most: its execution, a new conversation,
// the user message and the reply.
const runIDs = 4

// idBlock fills out with ULIDs made at once, in one allocation: now's millisecond, 80
// random bits, then counting up from them, so a run's ids sort in the order it
// takes them (as ulid's monotonic entropy would) and cost no lock and no
// allocation each. A block per run keeps them unique across runs (80 random bits
// per millisecond); they name records, they guard nothing (every read is checked
// against its owner).
func idBlock(now time.Time, out []string) {
	n := len(out)
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(now)) // only past the year 10889 does it fail
	binary.BigEndian.PutUint64(u[6:14], rand.Uint64())
	binary.BigEndian.PutUint16(u[14:16], uint16(rand.Uint32()))
	var b strings.Builder
	b.Grow(n * ulid.EncodedSize)
	var enc [ulid.EncodedSize]byte
	for range n {
		_ = u.MarshalTextTo(enc[:]) // a 26-byte buffer never fails
		b.Write(enc[:])
		for i := len(u) - 1; i >= 6; i-- { // entropy + 1, with carry
			u[i]++
			if u[i] != 0 {
				break
			}
		}
	}
	s := b.String()
	for i := range out {
		out[i] = s[i*ulid.EncodedSize : (i+1)*ulid.EncodedSize]
	}
}

// newID is the run's next id: Options.NewID when the caller set one, else the
// next of the run's block.
func (r *run) newID() string {
	if !r.x.blockIDs {
		return r.x.o.NewID()
	}
	if len(r.ids) == 0 {
		r.ids = r.idBuf[:]
		idBlock(r.x.o.Now(), r.ids)
	}
	id := r.ids[0]
	r.ids = r.ids[1:]
	return id
}
