package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatterhq/chatter/internal/wire"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/llm"
	"github.com/chatterhq/chatter/internal/text"
)

// Sizes. A DynamoDB item holds at most 400 KB, counted as the bytes of its attribute
// names and values. Every record is measured one way, the way its item is written:
// the text body (a message's content, an execution's output) as it is, the rest as
// Encode writes it (JSON without HTML escaping: '<' is one byte, not six). A record
// is kept within MaxRecordBytes, which leaves the rest of an item for its keys.
//
// A record is fitted before every write, at the start of a turn as at its end, by
// the same function: what a run produced (a reply over the content cap, tool call
// arguments and results, the node log, error texts, names) is cut to its part of the
// budget, deterministically and ending with text.Marker, never refused. What a
// caller sent is refused instead, as too_large naming the field, before anything is
// stored: a user message over the content cap, metadata over MaxMetadataBytes. The
// parts add up to less than MaxRecordBytes (TestBudgets_PartsFitTheRecord), so a
// turn that started always finishes with its reply stored.
const (
	MaxRecordBytes  = 300 << 10 // one record: a message, an execution, a definition graph, a template
	MaxContentLimit = 128 << 10 // the largest content cap a store applies (its default is DefaultMaxContentBytes)

	MaxToolCallsBytes = 96 << 10 // a message's tool calls, encoded
	MaxSourcesBytes   = 32 << 10 // a message's sources, encoded: passages cut to MaxSourceText, then the last dropped
	MaxSourceText     = 1 << 10  // a stored source's passage text
	MaxMetadataBytes  = 64 << 10 // a run's metadata, encoded; more is refused when the run starts
	MaxLogBytes       = 64 << 10 // an execution's node log, encoded
	// MaxRecordedToolCallsBytes bounds the tool calls an execution keeps (encoded),
	// each argument and result cut to MaxRecordedToolText; the assistant message keeps
	// them under MaxToolCallsBytes.
	MaxRecordedToolCallsBytes = 24 << 10
	MaxRecordedToolText       = 1 << 10
	MaxErrorBytes             = 4 << 10 // an error message kept on a record
	MaxNameBytes              = 256     // a provider, model, source name, node id, tool call id or name on a record

	MaxEventDataBytes = 256 << 10 // one event's data in an execution's log
	MaxResponseBytes  = 256 << 10 // a response kept for an idempotency key
)

// minCut is the shortest a fit cuts a text to; when that is not short enough, whole
// records (or, for FitJSON, the structure) go.
const minCut = 64

// Encode is the JSON encoding of every blob a store writes and measures.
func Encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// encodedLen is len(Encode(v)), or a size over any budget when v cannot be encoded
// (Prepare then reports the encoding error).
func encodedLen(v any) int {
	b, err := Encode(v)
	if err != nil {
		return MaxRecordBytes + 1
	}
	return len(b)
}

// TimeKey formats t as a fixed-width UTC string whose byte order is time order, for
// sort keys and cursors.
func TimeKey(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// SeqKey formats a sequence number so that byte order is numeric order.
func SeqKey(n int) string { return fmt.Sprintf("%010d", n) }

// tooLarge is a too_large error naming the request field at fault ("" for none).
func tooLarge(field, format string, args ...any) error {
	return &Error{Code: errcode.TooLarge, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ContentCap is the content cap a store applies for a configured cap max: max,
// or MaxContentLimit when max is 0 or above it.
func ContentCap(max int) int {
	if max <= 0 || max > MaxContentLimit {
		return MaxContentLimit
	}
	return max
}

// CheckContent refuses content a user sent: too_large over the cap (see
// ContentCap), invalid when it is not UTF-8. Both name the field "message".
func CheckContent(content string, max int) error {
	if max = ContentCap(max); len(content) > max {
		return tooLarge("message", "message content is %d bytes; at most %d allowed", len(content), max)
	}
	if !utf8.ValidString(content) {
		return &Error{Code: errcode.InvalidInput, Field: "message", Message: "message content is not valid UTF-8"}
	}
	return nil
}

// CheckMetadata refuses metadata whose encoding is over MaxMetadataBytes (too_large
// naming "metadata") or that does not encode (invalid).
func CheckMetadata(meta map[string]any) error {
	if len(meta) == 0 {
		return nil
	}
	b, err := Encode(meta)
	if err != nil {
		return &Error{Code: errcode.InvalidInput, Field: "metadata", Message: "metadata: " + err.Error()}
	}
	if len(b) > MaxMetadataBytes {
		return tooLarge("metadata", "metadata is %d bytes encoded; at most %d allowed", len(b), MaxMetadataBytes)
	}
	return nil
}

// MessageSize is the bytes m takes in its record: content as it is, the rest encoded.
func MessageSize(m *Message) int {
	rest := *m
	rest.Content = ""
	return encodedLen(&rest) + len(m.Content)
}

// ExecutionSize is the bytes e takes in its record: output as it is, the rest encoded.
func ExecutionSize(e *Execution) int {
	rest := *e
	rest.Output = ""
	return encodedLen(&rest) + len(e.Output)
}

// PrepareMessage fits a message to its record before it is stored. A user's content
// over the cap is refused (too_large, see CheckContent); any other role's is cut to
// the cap with the marker and the message marked incomplete (bytes that are not
// UTF-8 become U+FFFD first). Tool calls are fitted
// to MaxToolCallsBytes, names to MaxNameBytes. m is updated to what is stored; the
// tool call records it held are never edited. Returns invalid for a message without
// id, owner or conversation, or with content that is not UTF-8.
func PrepareMessage(m *Message, maxContent int) error {
	if m == nil || m.UserID == "" || m.ConversationID == "" || m.ID == "" {
		return Invalid("a message needs an id, a user id and a conversation id")
	}
	if m.Role != llm.RoleUser {
		if !utf8.ValidString(m.Content) { // a model's bytes, kept rather than refused; written only when changed
			m.Content = strings.ToValidUTF8(m.Content, string(utf8.RuneError))
		}
		if max := ContentCap(maxContent); len(m.Content) > max {
			m.Content = text.Shorten(m.Content, max)
			m.Status = StatusIncomplete
		}
	}
	if err := CheckContent(m.Content, maxContent); err != nil {
		return err
	}
	m.Provider, m.Model = text.Shorten(m.Provider, MaxNameBytes), text.Shorten(m.Model, MaxNameBytes)
	var tcBytes, srcBytes int
	m.ToolCalls, tcBytes = fitToolCalls(m.ToolCalls, MaxToolCallsBytes, 0)
	m.Sources, srcBytes = fitSources(m.Sources)
	if sizeBound(m, len(m.Content)+tcBytes+srcBytes) <= MaxRecordBytes {
		return nil
	}
	return checkFitted("message", m, MessageSize(m))
}

// checkFitted is the last check of a fitted record of size bytes: invalid when it
// does not encode, too_large over MaxRecordBytes (which only ids far longer than
// any chatter issues can cause).
func checkFitted(kind string, v any, size int) error {
	if size <= MaxRecordBytes {
		return nil
	}
	if _, err := Encode(v); err != nil {
		return Invalid("%s: %v", kind, err)
	}
	return tooLarge("", "%s record is %d bytes; at most %d allowed", kind, size, MaxRecordBytes)
}

// PrepareExecution fits an execution to its record before it is stored: output to
// the content cap, tool calls to MaxRecordedToolCallsBytes, the log to MaxLogBytes,
// the error message to MaxErrorBytes, names to MaxNameBytes, each cut with the
// marker; metadata over MaxMetadataBytes (only a record stored before that budget
// can hold it) is fitted too. It never refuses what a run produced; where a caller
// creates a record from what it was sent, CheckMetadata comes first. The full output
// stays in the run's Result and its events. Returns invalid without id or user.
func PrepareExecution(e *Execution, maxContent int) error {
	if e == nil || e.ID == "" || e.UserID == "" {
		return Invalid("an execution needs an id and a user id")
	}
	e.Output = text.Shorten(strings.ToValidUTF8(e.Output, string(utf8.RuneError)), ContentCap(maxContent))
	e.ErrorMessage = text.Shorten(e.ErrorMessage, MaxErrorBytes)
	for _, s := range []*string{&e.Source.Name, &e.Provider, &e.Model, &e.ErrorNodeID, &e.ErrorCode, &e.CancelledBy} {
		*s = text.Shorten(*s, MaxNameBytes)
	}
	var tcBytes, logBytes, metaBytes int
	e.ToolCallRecords, tcBytes = fitToolCalls(e.ToolCallRecords, MaxRecordedToolCallsBytes, MaxRecordedToolText)
	e.Log, logBytes = fitLog(e.Log)
	if len(e.Metadata) > 0 {
		if metaBytes = encodedLen(e.Metadata); metaBytes > MaxMetadataBytes {
			m, _ := FitJSON(e.Metadata, MaxMetadataBytes).(map[string]any)
			e.Metadata, metaBytes = m, encodedLen(m)
		}
	}
	if sizeBound(e, len(e.Output)+tcBytes+logBytes+metaBytes) <= MaxRecordBytes {
		return nil // it fits: no need to encode the whole record to know
	}
	return checkFitted("execution", e, ExecutionSize(e))
}

// recordOverhead bounds what a record's field names, numbers, booleans, times and
// punctuation take encoded, beyond its strings' bytes (TestSizeBound_IsAnUpperBound
// holds it to that for every field of Message and Execution).
const recordOverhead = 2 << 10

// sizeBound is an upper bound of a record's encoded size that needs no encoding:
// measured is the bytes of its parts already measured (content or output as it is,
// tool calls, log and metadata as encoded); every other string field counts 6 bytes
// a byte (the longest JSON escape, \u00XX), plus recordOverhead.
func sizeBound(rec any, measured int) int {
	n := measured + recordOverhead
	switch r := rec.(type) {
	case *Message:
		n += 6 * (len(r.ID) + len(r.ConversationID) + len(r.UserID) + len(r.ExecutionID) + len(r.Role) + len(r.Status) +
			len(r.Provider) + len(r.Model))
	case *Execution:
		n += 6 * (len(r.ID) + len(r.UserID) + len(r.ConversationID) + len(r.Source.Kind) + len(r.Source.ID) +
			len(r.Source.Name) + len(r.Mode) + len(r.Status) + len(r.Provider) + len(r.Model) + len(r.MessageID) +
			len(r.ErrorNodeID) + len(r.ErrorCode) + len(r.ErrorMessage) + len(r.CancelledBy))
		if ref := r.Idempotency; ref != nil {
			n += 6 * (len(ref.Key) + len(ref.RequestHash))
		}
	default:
		return MaxRecordBytes + 1
	}
	return n
}

// PrepareNewExecution is PrepareExecution for a record created from what a caller
// sent: metadata over its budget is refused (see CheckMetadata), not fitted.
func PrepareNewExecution(e *Execution, maxContent int) error {
	if e != nil {
		if err := CheckMetadata(e.Metadata); err != nil {
			return err
		}
	}
	return PrepareExecution(e, maxContent)
}

// fitToolCalls returns tcs as they fit budget bytes encoded, never editing them:
// ids and names cut to MaxNameBytes and every argument and result to fieldMax (0:
// no such cap); then, while over, every argument and result is cut to the largest
// length at which the calls fit (the longest texts lose most); when even minCut
// bytes each are too many, calls are dropped from the end. A cut argument is kept
// as a JSON string holding the marked prefix of its text (see argumentsText).
func fitToolCalls(tcs []ToolCallRecord, budget, fieldMax int) ([]ToolCallRecord, int) {
	if len(tcs) == 0 {
		return tcs, 0
	}
	longest, names := 0, 0
	for i := range tcs {
		longest = max(longest, len(tcs[i].Arguments), len(tcs[i].Result))
		names = max(names, len(tcs[i].ID), len(tcs[i].Name))
	}
	if fieldMax == 0 {
		fieldMax = longest
	}
	if longest <= fieldMax && names <= MaxNameBytes {
		if n := encodedLen(tcs); n <= budget {
			return tcs, n
		}
	}
	fieldMax = min(fieldMax, budget) // a longer text cannot fit anyway
	base := slices.Clone(tcs)
	argText := make([]string, len(base))
	whole := make([]int, len(base)) // encoded size of each call before texts are cut
	for i := range base {
		tc := &base[i]
		tc.ID, tc.Name = text.Shorten(tc.ID, MaxNameBytes), text.Shorten(tc.Name, MaxNameBytes)
		if len(tc.Arguments) > 0 && !json.Valid(tc.Arguments) {
			tc.Arguments, _ = Encode(string(tc.Arguments)) // kept as text rather than failing the write
		}
		argText[i], whole[i] = argumentsText(tc.Arguments), encodedLen(tc)
	}
	// capped cuts every text to n bytes and returns the calls' encoded size: a JSON
	// array is its elements, a comma between each two, and the brackets.
	capped := func(n int) ([]ToolCallRecord, int) {
		out := slices.Clone(base)
		size := len(out) + 1
		for i := range out {
			tc := &out[i]
			if len(tc.Result) <= n && len(tc.Arguments) <= n {
				size += whole[i]
				continue
			}
			tc.Result = text.Shorten(tc.Result, n)
			if len(tc.Arguments) > n {
				tc.Arguments, _ = Encode(text.Shorten(argText[i], n)) // a string always encodes
			}
			size += encodedLen(tc)
		}
		return out, size
	}
	out, size := capped(fieldMax)
	if size <= budget {
		return out, size
	}
	// The encoded size grows with the cut length: find the largest that fits.
	if fieldMax > minCut {
		n := minCut - 1 + sort.Search(fieldMax-minCut, func(i int) bool { _, size := capped(minCut + i); return size > budget })
		out, _ = capped(max(n, minCut))
	}
	for ; len(out) > 0; out = out[:len(out)-1] {
		if n := encodedLen(out); n <= budget {
			return out, n
		}
	}
	return out, 0
}

// fitSources returns srcs as they fit MaxSourcesBytes encoded, never editing them:
// passages cut to MaxSourceText and titles and ids to MaxNameBytes, then the last
// sources dropped (they are in rank order, best first).
func fitSources(srcs []wire.Passage) ([]wire.Passage, int) {
	if len(srcs) == 0 {
		return srcs, 0
	}
	if n := encodedLen(srcs); n <= MaxSourcesBytes {
		return srcs, n
	}
	out := slices.Clone(srcs)
	for i := range out {
		p := &out[i]
		p.Text, p.Title = text.Shorten(p.Text, MaxSourceText), text.Shorten(p.Title, MaxNameBytes)
		p.DocumentID, p.ChunkID = text.Shorten(p.DocumentID, MaxNameBytes), text.Shorten(p.ChunkID, MaxNameBytes)
	}
	for ; len(out) > 0; out = out[:len(out)-1] {
		if n := encodedLen(out); n <= MaxSourcesBytes {
			return out, n
		}
	}
	return out, 0
}

// argumentsText is what a cut of args keeps a prefix of: the text of a JSON string
// (arguments cut before), else the arguments as they are.
func argumentsText(args json.RawMessage) string {
	var s string
	if len(args) > 0 && args[0] == '"' && json.Unmarshal(args, &s) == nil {
		return s
	}
	return string(args)
}

// fitLog shortens node details, errors and names, then drops the log's tail, until
// the log fits MaxLogBytes. The run's Result keeps the whole log.
func fitLog(in []NodeRun) ([]NodeRun, int) {
	if len(in) == 0 {
		return in, 0
	}
	if n := encodedLen(in); n <= MaxLogBytes {
		return in, n
	}
	log := slices.Clone(in)
	for i := range log {
		n := &log[i]
		n.Detail, n.Error = text.Shorten(n.Detail, 128), text.Shorten(n.Error, 512)
		n.NodeID, n.Kind, n.Status = text.Shorten(n.NodeID, MaxNameBytes), text.Shorten(n.Kind, MaxNameBytes), text.Shorten(n.Status, MaxNameBytes)
	}
	for {
		n := encodedLen(log)
		if n <= MaxLogBytes || len(log) <= 1 {
			return log, n
		}
		log = log[:len(log)*3/4]
	}
}

// FitJSON returns v when it encodes within budget bytes. Otherwise it returns v as
// plain JSON values (maps, slices, strings, json.Number) with every string cut, with the
// marker, to the largest length at which the whole fits; when even minCut bytes per
// string are too many, {"truncated": <the marked prefix of v's encoding>}. The same
// v always gives the same result, and v is never edited.
func FitJSON(v any, budget int) any {
	b, err := Encode(v)
	if err == nil && len(b) <= budget {
		return v
	}
	var plain any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers stay exactly as they were
	if err != nil || dec.Decode(&plain) != nil {
		return map[string]any{"truncated": text.Marker}
	}
	if longest := min(longestString(plain), budget); longest > minCut {
		n := minCut - 1 + sort.Search(longest-minCut, func(i int) bool {
			return encodedLen(capStrings(plain, minCut+i)) > budget
		})
		if out := capStrings(plain, n); n >= minCut && encodedLen(out) <= budget {
			return out
		}
	}
	// No structure survives: keep what fits of the encoding as one string. Escaping
	// can double it, so halve until it fits.
	s := string(b)
	for n := budget / 2; ; n /= 2 {
		out := map[string]any{"truncated": text.Shorten(s, n)}
		if encodedLen(out) <= budget || n == 0 {
			return out
		}
	}
}

func longestString(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []any:
		n := 0
		for _, e := range x {
			n = max(n, longestString(e))
		}
		return n
	case map[string]any:
		n := 0
		for _, e := range x {
			n = max(n, longestString(e))
		}
		return n
	}
	return 0
}

// capStrings returns a copy of v with every string value cut to n bytes.
func capStrings(v any, n int) any {
	switch x := v.(type) {
	case string:
		return text.Shorten(x, n)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = capStrings(e, n)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = capStrings(e, n)
		}
		return out
	}
	return v
}

// EncodeEventData is an event's data as an execution's log keeps it: encoded, and
// fitted to MaxEventDataBytes by FitJSON.
func EncodeEventData(data any) (json.RawMessage, error) {
	b, err := Encode(data)
	if err != nil || len(b) <= MaxEventDataBytes {
		return b, err
	}
	return Encode(FitJSON(data, MaxEventDataBytes))
}

// EncodeRecord encodes a record stored as one blob (a definition graph, a template);
// too_large over MaxRecordBytes, so an oversize record is a typed error rather than
// DynamoDB's item-size failure.
func EncodeRecord(kind string, v any) ([]byte, error) {
	b, err := Encode(v)
	if err != nil {
		return nil, Invalid("%s: %v", kind, err)
	}
	if len(b) > MaxRecordBytes {
		return nil, tooLarge("", "%s is %d bytes encoded; at most %d allowed", kind, len(b), MaxRecordBytes)
	}
	return b, nil
}

// CheckRecordSize is EncodeRecord's check alone.
func CheckRecordSize(kind string, v any) error {
	_, err := EncodeRecord(kind, v)
	return err
}
