package executor

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"time"
	"unsafe"

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
// against its owner). Only the first is encoded; each next one is its
// predecessor's text plus one (incrementText).
func idBlock(now time.Time, out []string) {
	n := len(out)
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(now)) // only past the year 10889 does it fail
	binary.BigEndian.PutUint64(u[6:14], rand.Uint64())
	binary.BigEndian.PutUint16(u[14:16], uint16(rand.Uint32()))
	buf := make([]byte, n*ulid.EncodedSize)
	_ = u.MarshalTextTo(buf[:ulid.EncodedSize]) // a 26-byte buffer never fails
	for i := 1; i < n; i++ {
		next := buf[i*ulid.EncodedSize : (i+1)*ulid.EncodedSize]
		copy(next, buf[(i-1)*ulid.EncodedSize:i*ulid.EncodedSize])
		incrementText(next)
	}
	s := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is never written again
	for i := range out {
		out[i] = s[i*ulid.EncodedSize : (i+1)*ulid.EncodedSize]
	}
}

// crockford is ULID's base32 alphabet, in digit order.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// entropyChars is how many of a ULID's 26 characters encode its 80 random bits:
// the last 16, exactly (the first 10 are the 48-bit time).
const entropyChars = 16

// incrementText adds one to the entropy of the ULID text id in place, wrapping
// within it as the bytes would (never carrying into the time): the text is the
// 128-bit number in big-endian base32, so the text of u+1 is the text of u plus one.
func incrementText(id []byte) {
	for i := len(id) - 1; i >= len(id)-entropyChars; i-- {
		d := strings.IndexByte(crockford, id[i])
		if d < len(crockford)-1 {
			id[i] = crockford[d+1]
			return
		}
		id[i] = crockford[0]
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
		idBlock(r.began, r.ids) // the ids' time is the invocation's start
	}
	id := r.ids[0]
	r.ids = r.ids[1:]
	return id
}
