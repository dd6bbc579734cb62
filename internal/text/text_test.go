package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/chatterhq/chatter/internal/text"
)

func TestCut_KeepsWholeCharacters(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello", 3, "hel"},
		{"hello", 0, ""},
		{"hello", -1, ""},
		{"aé", 2, "a"},   // é is two bytes
		{"a€b", 3, "a"},  // € is three
		{"a€b", 4, "a€"}, // whole
		{"😀x", 3, ""},    // four bytes
		{"😀x", 4, "😀"},
		{"\x80\x80\x80", 2, "\x80\x80"}, // invalid bytes count one each
		{"a\xc3", 1, "a"},
	}
	for _, tt := range tests {
		if got := text.Cut(tt.s, tt.n); got != tt.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestShorten_EndsWithTheMarkerWithinTheBudget(t *testing.T) {
	s := strings.Repeat("é", 100)
	got := text.Shorten(s, 51)
	if len(got) > 51 || !strings.HasSuffix(got, text.Marker) || !utf8.ValidString(got) {
		t.Fatalf("Shorten = %q (%d bytes), want at most 51 bytes ending with the marker", got, len(got))
	}
	if got := text.Shorten("short", 5); got != "short" {
		t.Fatalf("Shorten of a fitting text = %q", got)
	}
	if got := text.Shorten(s, 5); got != "éé" {
		t.Fatalf("Shorten below the marker's size = %q, want a plain cut", got)
	}
}

// unicodeText draws strings mixing one- to four-byte characters.
func unicodeText() *rapid.Generator[string] {
	return rapid.StringOf(rapid.SampledFrom([]rune{'a', '<', '"', 'é', '€', '😀', '\u0301', utf8.RuneError}))
}

func TestCut_NeverSplitsACharacterOrExceedsTheBudget(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := unicodeText().Draw(t, "s")
		n := rapid.IntRange(-2, len(s)+2).Draw(t, "n")
		got := text.Cut(s, n)
		switch {
		case len(got) > max(n, 0):
			t.Fatalf("Cut(%q, %d) = %q: %d bytes", s, n, got, len(got))
		case !strings.HasPrefix(s, got):
			t.Fatalf("Cut(%q, %d) = %q: not a prefix", s, n, got)
		case !utf8.ValidString(got):
			t.Fatalf("Cut(%q, %d) = %q: splits a character", s, n, got)
		}
		if got != s {
			// The longest such prefix: the next character would not fit.
			_, size := utf8.DecodeRuneInString(s[len(got):])
			if len(got)+size <= n {
				t.Fatalf("Cut(%q, %d) = %q: the next character fits too", s, n, got)
			}
		}
		sh := text.Shorten(s, n)
		if n >= len(text.Marker) && !text.Shortened(sh, s) {
			t.Fatalf("Shortened(Shorten(%q, %d)) is false", s, n)
		}
		switch {
		case len(sh) > max(n, 0):
			t.Fatalf("Shorten(%q, %d) = %q: %d bytes", s, n, sh, len(sh))
		case !utf8.ValidString(sh):
			t.Fatalf("Shorten(%q, %d) = %q: splits a character", s, n, sh)
		case sh != s && n >= len(text.Marker) && !strings.HasSuffix(sh, text.Marker):
			t.Fatalf("Shorten(%q, %d) = %q: cut without the marker", s, n, sh)
		}
	})
}

func TestShortened_TellsACutFromAnotherText(t *testing.T) {
	s := "aé" + strings.Repeat("b", 40)
	tests := []struct {
		got  string
		want bool
	}{
		{s, true},
		{text.Shorten(s, 20), true},
		{"a" + text.Marker, true},
		{"a\xc3" + text.Marker, false}, // splits the é
		{"x" + text.Marker, false},
		{s[:10], false}, // cut without the marker
	}
	for _, tt := range tests {
		if got := text.Shortened(tt.got, s); got != tt.want {
			t.Errorf("Shortened(%q) = %t, want %t", tt.got, got, tt.want)
		}
	}
}

func TestCut_OnArbitraryBytesStaysAPrefixWithinTheBudget(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes"))
		n := rapid.IntRange(0, len(s)+1).Draw(t, "n")
		got := text.Cut(s, n)
		if len(got) > n || !strings.HasPrefix(s, got) {
			t.Fatalf("Cut(%q, %d) = %q", s, n, got)
		}
		// What was valid before the cut point stays valid.
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Cut(%q, %d) = %q splits a character", s, n, got)
		}
	})
}

func FuzzCut(f *testing.F) {
	f.Add("aé€😀", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := text.Cut(s, n)
		if len(got) > max(n, 0) || !strings.HasPrefix(s, got) || (utf8.ValidString(s) && !utf8.ValidString(got)) {
			t.Fatalf("Cut(%q, %d) = %q", s, n, got)
		}
	})
}
