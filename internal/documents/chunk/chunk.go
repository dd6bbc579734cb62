// Package chunk splits a document's text into overlapping chunks for embedding and
// search.
//
// Sizes are in characters (Unicode code points, as the predecessor's chunk_size and
// start_char/end_char counted them), and so are a Chunk's Start and End. A chunk is
// at most Size characters. Its end is the best boundary in the last part of the
// window, from halfway between Overlap and Size on (so each chunk starts at least
// (Size-Overlap)/2 characters after the one before): a paragraph break, else a line break, else the end of a sentence, else a
// space; a window without any is cut at Size. The next chunk starts Overlap
// characters before the previous end, moved forward to the start of the next word
// when that falls inside a word (and that word starts before the previous end), so
// consecutive chunks share at most Overlap characters and chunks do not begin
// mid-word. Chunks of whitespace only are left out; every other character is in at
// least one chunk.
//
// Limits: Size in [MinSize, MaxSize] (MaxSize keeps a chunk well under the input
// limits of Titan Text Embeddings v2 and text-embedding-3-small), Overlap in
// [0, Size/2], so a text of n characters makes at most n/MinStep(p) + 1 chunks
// (4n/Size + 1 at worst; 2.5n/Size + 1 with the defaults).
package chunk

import (
	"fmt"
	"unicode"
)

// The predecessor's defaults and this package's bounds.
const (
	DefaultSize    = 1000
	DefaultOverlap = 200
	MinSize        = 100
	MaxSize        = 8000
)

// Params are a document's chunking settings, as the upload request names them.
type Params struct {
	Size    int // chunk_size
	Overlap int // chunk_overlap
}

// Defaults are the predecessor's chunk_size 1000 and chunk_overlap 200.
var Defaults = Params{Size: DefaultSize, Overlap: DefaultOverlap}

// ParamError is an invalid chunking setting; Field is the request field's name.
type ParamError struct {
	Field   string // "chunk_size" or "chunk_overlap"
	Message string
}

func (e *ParamError) Error() string { return e.Field + ": " + e.Message }

// Validate reports the first invalid setting as a *ParamError.
func (p Params) Validate() error {
	if p.Size < MinSize || p.Size > MaxSize {
		return &ParamError{Field: "chunk_size", Message: fmt.Sprintf("must be between %d and %d characters, got %d", MinSize, MaxSize, p.Size)}
	}
	if p.Overlap < 0 || p.Overlap > p.Size/2 {
		return &ParamError{Field: "chunk_overlap", Message: fmt.Sprintf("must be between 0 and half of chunk_size (%d), got %d", p.Size/2, p.Overlap)}
	}
	return nil
}

// MinStep is the least distance between the starts of consecutive chunks.
func (p Params) MinStep() int { return max(1, (p.Size-p.Overlap)/2) }

// Chunk is one piece of a text: Text is the text's characters [Start, End).
type Chunk struct {
	Index int
	Start int
	End   int
	Text  string
}

// Split cuts text into chunks with p, which must be valid (a *ParamError if not).
func Split(text string, p Params) ([]Chunk, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rs := []rune(text)
	n := len(rs)
	var out []Chunk
	add := func(start, end int) {
		for i := start; i < end; i++ {
			if !unicode.IsSpace(rs[i]) {
				out = append(out, Chunk{Index: len(out), Start: start, End: end, Text: string(rs[start:end])})
				return
			}
		}
	}
	start := 0
	for start < n {
		if n-start <= p.Size {
			add(start, n)
			break
		}
		end := breakAt(rs, start+p.Overlap+p.MinStep(), start+p.Size)
		add(start, end)
		start = nextStart(rs, end-p.Overlap, end)
	}
	return out, nil
}

// breakAt is the best end of a chunk between lo and hi (hi < len(rs)): the last
// boundary of the strongest kind there, else hi. Ending at i means rs[i-1] is the
// chunk's last character.
func breakAt(rs []rune, lo, hi int) int {
	best := [4]int{} // per strength: paragraph, line, sentence, space
	for i := hi; i >= lo; i-- {
		prev := rs[i-1]
		switch {
		case best[0] == 0 && prev == '\n' && i >= 2 && rs[i-2] == '\n':
			best[0] = i
		case best[1] == 0 && prev == '\n':
			best[1] = i
		case best[2] == 0 && unicode.IsSpace(prev) && i >= 2 && isSentenceEnd(rs[i-2]):
			best[2] = i
		case best[3] == 0 && unicode.IsSpace(prev):
			best[3] = i
		}
		if best[0] != 0 {
			break
		}
	}
	for _, b := range best {
		if b != 0 {
			return b
		}
	}
	return hi
}

func isSentenceEnd(r rune) bool {
	switch r {
	case '.', '!', '?', '。', '！', '？':
		return true
	}
	return false
}

// nextStart moves s forward to the start of a word when rs[s] is inside one, as long
// as that start is before end; else s.
func nextStart(rs []rune, s, end int) int {
	if s <= 0 || unicode.IsSpace(rs[s-1]) {
		return s
	}
	for i := s; i < end; i++ {
		if unicode.IsSpace(rs[i]) {
			for j := i + 1; j < end; j++ {
				if !unicode.IsSpace(rs[j]) {
					return j
				}
			}
			return s
		}
	}
	return s
}
