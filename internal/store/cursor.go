package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/chatterhq/chatter/internal/wire/errcode"
)

// Cursors seals list positions into opaque, tamper-evident strings. The MAC covers
// the list's scope (owner and list identity) too, so a cursor forged, edited, or
// taken from another user's or another list's page opens to an invalid error
// before any read is made.
type Cursors struct{ key []byte }

// NewCursors returns a codec keyed by key. An empty key draws a random one: cursors
// then stay valid only within this process, which suits tests and a single dev
// server but not several Lambda instances.
func NewCursors(key []byte) *Cursors {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic("store: no randomness for a cursor key: " + err.Error())
		}
	}
	return &Cursors{key: append([]byte(nil), key...)}
}

const macLen = 16

// Seal encodes pos as a cursor valid only for scope.
func (c *Cursors) Seal(scope string, pos map[string]string) string {
	payload, _ := json.Marshal(pos) // a map of strings always marshals
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(c.mac(scope, payload))
}

// Open decodes a cursor sealed for scope. Returns invalid if it was not.
func (c *Cursors) Open(scope, cursor string) (map[string]string, error) {
	bad := &Error{Code: errcode.InvalidInput, Message: "invalid cursor: pass the next_cursor of the previous page unchanged"}
	p, m, ok := strings.Cut(cursor, ".")
	if !ok || len(cursor) > 4096 {
		return nil, bad
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, c.mac(scope, payload)) {
		return nil, bad
	}
	var pos map[string]string
	if err := json.Unmarshal(payload, &pos); err != nil || len(pos) == 0 {
		return nil, bad
	}
	return pos, nil
}

func (c *Cursors) mac(scope string, payload []byte) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)[:macLen]
}
