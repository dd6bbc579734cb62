package chunk_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"pgregory.net/rapid"

	"github.com/chatterhq/chatter/internal/documents/chunk"
)

func TestValidate_NamesTheField(t *testing.T) {
	tests := []struct {
		p     chunk.Params
		field string
	}{
		{chunk.Params{Size: chunk.MinSize - 1, Overlap: 0}, "chunk_size"},
		{chunk.Params{Size: chunk.MaxSize + 1, Overlap: 0}, "chunk_size"},
		{chunk.Params{Size: 1000, Overlap: -1}, "chunk_overlap"},
		{chunk.Params{Size: 1000, Overlap: 501}, "chunk_overlap"},
		{chunk.Params{Size: 1000, Overlap: 1000}, "chunk_overlap"},
		{chunk.Defaults, ""},
		{chunk.Params{Size: chunk.MinSize, Overlap: chunk.MinSize / 2}, ""},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		var pe *chunk.ParamError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tt.p, err)
		case tt.field != "" && (!errors.As(err, &pe) || pe.Field != tt.field):
			t.Errorf("%+v: error %v, want a ParamError naming %s", tt.p, err, tt.field)
		}
		if _, serr := chunk.Split("some text", tt.p); (serr != nil) != (err != nil) {
			t.Errorf("%+v: Split error %v, Validate error %v", tt.p, serr, err)
		}
	}
	if chunk.Defaults.Size != 1000 || chunk.Defaults.Overlap != 200 {
		t.Fatalf("defaults %+v differ from the predecessor's 1000/200", chunk.Defaults)
	}
}

func TestSplit_PrefersParagraphThenSentenceBoundaries(t *testing.T) {
	para1 := strings.Repeat("Alpha beta gamma. ", 5) // 90 characters
	para2 := strings.Repeat("Delta epsilon zeta. ", 5)
	text := para1 + "\n\n" + para2 + "\n\n" + para1
	got, err := chunk.Split(text, chunk.Params{Size: 150, Overlap: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 || !strings.HasSuffix(got[0].Text, "\n\n") || got[0].Text != para1+"\n\n" {
		t.Fatalf("first chunk %q does not end at the paragraph break", got[0].Text)
	}
	sentences := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 10)
	got, err = chunk.Split(sentences, chunk.Params{Size: 100, Overlap: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got[:len(got)-1] {
		if !strings.HasSuffix(c.Text, ". ") {
			t.Errorf("chunk %d %q does not end at a sentence", c.Index, c.Text)
		}
	}
}

func TestSplit_OverlapStartsAtAWord(t *testing.T) {
	text := strings.Repeat("word ", 100)
	got, err := chunk.Split(text, chunk.Params{Size: 100, Overlap: 22})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(got); i++ {
		ov := got[i-1].End - got[i].Start
		if ov <= 0 || ov > 22 {
			t.Errorf("chunks %d/%d overlap %d characters, want 1..22", i-1, i, ov)
		}
		if !strings.HasPrefix(got[i].Text, "word") {
			t.Errorf("chunk %d starts mid-word: %q", i, got[i].Text[:10])
		}
	}
}

func TestSplit_OffsetsCountCharacters(t *testing.T) {
	text := strings.Repeat("héllo wörld ", 30) + "日本語のテキスト。" + strings.Repeat("ünïcode ", 20)
	got, err := chunk.Split(text, chunk.Params{Size: 100, Overlap: 10})
	if err != nil {
		t.Fatal(err)
	}
	rs := []rune(text)
	for _, c := range got {
		if c.Text != string(rs[c.Start:c.End]) {
			t.Fatalf("chunk %d text is not characters [%d,%d)", c.Index, c.Start, c.End)
		}
	}
	if last := got[len(got)-1]; last.End != len(rs) {
		t.Fatalf("last chunk ends at %d of %d characters", last.End, len(rs))
	}
}

func TestSplit_EmptyAndBlankTextHaveNoChunks(t *testing.T) {
	for _, s := range []string{"", "   \n\n\t  "} {
		got, err := chunk.Split(s, chunk.Defaults)
		if err != nil || len(got) != 0 {
			t.Errorf("Split(%q) = %v, %v; want no chunks", s, got, err)
		}
	}
}

// textGen makes texts of words, sentences, paragraphs and long unbroken runs.
func textGen() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		var b strings.Builder
		n := rapid.IntRange(0, 300).Draw(t, "tokens")
		for i := 0; i < n; i++ {
			switch rapid.IntRange(0, 9).Draw(t, "kind") {
			case 0:
				b.WriteString("\n\n")
			case 1:
				b.WriteString(". ")
			case 2:
				b.WriteString("\n")
			case 3:
				b.WriteString(strings.Repeat("x", rapid.IntRange(50, 400).Draw(t, "run")))
			case 4:
				b.WriteString(rapid.StringN(1, 20, -1).Draw(t, "any"))
			default:
				b.WriteString(rapid.StringMatching(`[a-zé]{1,12}`).Draw(t, "word"))
				b.WriteString(" ")
			}
		}
		return b.String()
	})
}

func TestSplit_Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		text := textGen().Draw(t, "text")
		size := rapid.IntRange(chunk.MinSize, 600).Draw(t, "size")
		overlap := rapid.IntRange(0, size/2).Draw(t, "overlap")
		got, err := chunk.Split(text, chunk.Params{Size: size, Overlap: overlap})
		if err != nil {
			t.Fatal(err)
		}
		rs := []rune(text)
		covered := make([]bool, len(rs))
		for i, c := range got {
			if c.Index != i {
				t.Fatalf("chunk %d has index %d", i, c.Index)
			}
			if c.End-c.Start > size || c.End <= c.Start {
				t.Fatalf("chunk %d spans [%d,%d): over size %d or empty", i, c.Start, c.End, size)
			}
			if c.Text != string(rs[c.Start:c.End]) {
				t.Fatalf("chunk %d text does not match its offsets", i)
			}
			if strings.TrimSpace(c.Text) == "" {
				t.Fatalf("chunk %d is whitespace only", i)
			}
			for j := c.Start; j < c.End; j++ {
				covered[j] = true
			}
			if i > 0 {
				prev := got[i-1]
				if c.Start <= prev.Start {
					t.Fatalf("chunk %d starts at %d, not after chunk %d at %d", i, c.Start, i-1, prev.Start)
				}
				if ov := prev.End - c.Start; ov > overlap {
					t.Fatalf("chunks %d and %d overlap %d characters, more than %d", i-1, i, ov, overlap)
				}
			}
		}
		for j, ok := range covered {
			if !ok && !unicode.IsSpace(rs[j]) {
				t.Fatalf("character %d (%q) is in no chunk", j, rs[j])
			}
		}
		p := chunk.Params{Size: size, Overlap: overlap}
		for i := 1; i < len(got); i++ {
			if got[i].Start-got[i-1].Start < p.MinStep() {
				t.Fatalf("chunk %d starts %d characters after chunk %d, less than MinStep %d", i, got[i].Start-got[i-1].Start, i-1, p.MinStep())
			}
		}
		if len(got) > len(rs)/p.MinStep()+1 {
			t.Fatalf("%d chunks for %d characters at size %d: more than the bound", len(got), len(rs), size)
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20000) // ~900k characters
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chunk.Split(text, chunk.Defaults); err != nil {
			b.Fatal(err)
		}
	}
}
