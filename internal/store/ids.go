package store

import "github.com/chatterhq/chatter/internal/wire"

// MaxIDLen bounds every id a request names: wire.MaxIDLen.
const MaxIDLen = wire.MaxIDLen

// MaxDocumentIDs bounds the document_ids one request may select.
const MaxDocumentIDs = 100

// ValidID reports whether id could name a record (wire.ValidID, the one rule, so
// the router, which links no store, checks request ids the same way).
func ValidID(id string) bool { return wire.ValidID(id) }
