package terms_test

import (
	"slices"
	"testing"

	"github.com/chatterhq/chatter/internal/documents/terms"
)

func TestTokenize_DropsStopWordsAndStems(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"How many days for REFUNDS?", []string{"day", "refund"}},
		{"The shipping policies: shipped within 3 days.", []string{"ship", "policy", "ship", "within", "3", "day"}},
		{"Charges, charged, charge", []string{"charg", "charg", "charg"}},
		{"naïve café über-größe", []string{"naïv", "café", "über", "größ"}},
		{"a I x  ... --", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := terms.Tokenize(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStem_InflectionsAgree(t *testing.T) {
	groups := [][]string{
		{"refund", "refunds", "refunded", "refunding"},
		{"ship", "ships", "shipped", "shipping"},
		{"policy", "policies"},
		{"return", "returns", "returned", "returning"},
		{"box", "boxes"},
	}
	for _, g := range groups {
		want := terms.Stem(g[0])
		for _, w := range g[1:] {
			if got := terms.Stem(w); got != want {
				t.Errorf("Stem(%q) = %q, Stem(%q) = %q", w, got, g[0], want)
			}
		}
	}
	for _, w := range []string{"bus", "this", "glass", "use"} {
		if got := terms.Stem(w); len(got) < 3 {
			t.Errorf("Stem(%q) = %q: shorter than three letters", w, got)
		}
	}
}

func FuzzTokenize(f *testing.F) {
	f.Add("Hello, wörld! 42 shipping")
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range terms.Tokenize(s) {
			if tok == "" {
				t.Fatalf("empty token from %q", s)
			}
		}
	})
}
