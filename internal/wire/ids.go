package wire

// MaxIDLen bounds every id a request names (in a path, a body, a query or the
// X-Request-Id header): every id chatter issues is far shorter, and a longer one
// could not be a key.
const MaxIDLen = 128

// ValidID reports whether id could name a record: 1 to MaxIDLen letters, digits
// and - _ . : (ULIDs, UUIDs, built-in template names). Callers refuse any other
// before a read, so a client's typo is a 422 naming the field, never a storage
// error; the router echoes only such a request id, so nothing else reaches logs or
// headers.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
