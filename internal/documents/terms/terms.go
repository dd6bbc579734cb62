// Package terms is the one tokenizer of the document pipeline: the offline Hashed
// embedder and BM25 keyword search both call Tokenize, so a word counts the same
// way in both rankings.
//
// Tokenize splits on anything that is not a letter or digit (Unicode), lowercases,
// drops English stop words and one-letter tokens, and strips a few English suffixes
// (plural s/es/ies, -ing, -ed, -ly, a final e) from words long enough to keep a
// stem of three letters. It is deliberately light: no dictionary, no language detection, so it
// is cheap at cold start and predictable; non-English text is tokenized and
// lowercased but not stemmed beyond those suffixes.
package terms

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenize returns the meaning-bearing terms of s in order of appearance.
func Tokenize(s string) []string {
	var out []string
	if len(s) > 32 {
		out = make([]string, 0, len(s)/8) // about one term in eight bytes of prose
	}
	start := -1
	for i := 0; i < len(s); {
		c := s[i]
		size := 1
		var word bool
		if c < utf8.RuneSelf {
			word = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			word = unicode.IsLetter(r) || unicode.IsDigit(r)
		}
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			out = appendTerm(out, s[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		out = appendTerm(out, s[start:])
	}
	return out
}

func appendTerm(out []string, w string) []string {
	if utf8.RuneCountInString(w) < 2 && !isDigits(w) {
		return out
	}
	w = strings.ToLower(w)
	if _, stop := stopWords[w]; stop {
		return out
	}
	return append(out, Stem(w))
}

func isDigits(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return w != ""
}

// Stem strips one common English suffix from a lowercase word, then a final "e",
// keeping at least three letters, and undoubles a final consonant left by -ing or
// -ed: "refunds" → "refund", "policies" → "policy", "shipping" → "ship", "charged" →
// "charg", "charges" → "charg". Stems need not be words; they only have to agree.
func Stem(w string) string {
	s := stripSuffix(w)
	if len(s) > 3 && s[len(s)-1] == 'e' {
		s = s[:len(s)-1]
	}
	return s
}

func stripSuffix(w string) string {
	n := len(w)
	for _, rule := range [...][2]string{{"ies", "y"}, {"sses", "ss"}, {"ing", ""}, {"ed", ""}, {"ly", ""}} {
		suffix, repl := rule[0], rule[1]
		if !strings.HasSuffix(w, suffix) || n-len(suffix)+len(repl) < 3 {
			continue
		}
		s := w[:n-len(suffix)] + repl
		if repl == "" && suffix != "ly" {
			s = undouble(s)
		}
		return s
	}
	if strings.HasSuffix(w, "es") && n > 4 && strings.ContainsAny(w[n-3:n-2], "sxz") {
		return w[:n-2]
	}
	if strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is") && n > 3 {
		return w[:n-1]
	}
	return w
}

// undouble turns "shipp" into "ship" and "runn" into "run" (not "ll", "ss", "zz").
func undouble(s string) string {
	n := len(s)
	if n >= 4 && s[n-1] == s[n-2] && strings.IndexByte("bdgmnprt", s[n-1]) >= 0 {
		return s[:n-1]
	}
	return s
}

// stopWords are English function words that carry no topic.
var stopWords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(`a about above after again against all am an and any are as at be because been
	before being below between both but by can could did do does doing down during each few for from further had has
	have having he her here hers herself him himself his how i if in into is it its itself just me more most my myself
	no nor not now of off on once only or other our ours ourselves out over own same she should so some such than that
	the their theirs them themselves then there these they this those through to too under until up very was we were
	what when where which while who whom why will with would you your yours yourself yourselves also may might must
	shall us let get got many much`) {
		m[w] = struct{}{}
	}
	return m
}()
