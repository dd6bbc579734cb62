// Package text cuts text to a byte budget without splitting a UTF-8 sequence. It is
// the one truncation every layer uses (llm adapters, tools, store, events,
// executor), and it owns the marker a shortened text ends with, so a reader can
// always tell a cut text from a whole one. It imports nothing of chatter's.
package text

import (
	"strings"
	"unicode/utf8"
)

// Marker ends every text that Shorten cut.
const Marker = "…[truncated]"

// Cut returns the longest prefix of s that is at most n bytes and does not end
// inside a UTF-8 sequence; "" when n <= 0. Bytes that are not valid UTF-8 are cut
// like one-byte characters.
func Cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	return s[:boundary(s, n)]
}

// boundary is where to cut s (len(s) > n) to keep at most n bytes: n itself, unless
// byte n continues a valid sequence that starts before it, then that start.
func boundary(s string, n int) int {
	if utf8.RuneStart(s[n]) {
		return n
	}
	for i := n - 1; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if _, size := utf8.DecodeRuneInString(s[i:]); size > 1 && i+size > n {
				return i
			}
			return n
		}
	}
	return n
}

// Shorten returns s when it is at most n bytes, else a prefix of s cut by Cut and
// followed by Marker, n bytes at most in all. When n is too small for the marker
// the result is Cut(s, n).
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < len(Marker) {
		return Cut(s, n)
	}
	return Cut(s, n-len(Marker)) + Marker
}

// Shortened reports whether got is s or what Shorten may make of it: a prefix of s
// ending on a character boundary, followed by Marker.
func Shortened(got, s string) bool {
	if got == s {
		return true
	}
	kept, ok := strings.CutSuffix(got, Marker)
	return ok && strings.HasPrefix(s, kept) && Cut(s, len(kept)) == kept
}
