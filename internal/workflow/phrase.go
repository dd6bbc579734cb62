package workflow

import (
	"fmt"
	"strconv"
	"strings"
)

// The predecessor's condition phrases are translated token by token, so each phrase
// is a name or an operator usable anywhere inside an expression: under negation
// (`not loop_L_continue`, `NOT has_errors`), in parentheses, nested, and combined
// with AND / OR / NOT (its spelling) as well as with expr-lang's own operators.
// Strings are single tokens, so `message contains "x or y"` is never split inside
// the quotes. Everything that is not a phrase is copied through unchanged for
// expr-lang to compile (and to reject, naming what it does not know).

type tokKind uint8

const (
	tokSpace tokKind = iota
	tokWord          // identifier, or a loop_<id>_<state> phrase name (ids may hold '-')
	tokNumber
	tokString // "...", '...' or `...`, quotes included
	tokOp     // an operator or punctuation; multi-character operators are one token
)

type token struct {
	kind       tokKind
	start, end int // byte offsets in the source
	text       string
}

// multiOps are expr-lang's operators of more than one character, longest first.
var multiOps = []string{"&&", "||", "==", "!=", "<=", ">=", "??", "?.", "..", "**"}

// loopStates are the suffixes of the loop phrase; done, exit and complete are its
// negation.
var loopStates = []string{"_continue", "_done", "_exit", "_complete"}

func isWordStart(c byte) bool {
	return c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
func isWordByte(c byte) bool { return isWordStart(c) || '0' <= c && c <= '9' }

// tokenize splits a condition into tokens, respecting quotes. An unterminated string
// is an error.
func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		var kind tokKind
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
				i++
			}
			kind = tokSpace
		case c == '"' || c == '\'' || c == '`':
			i++
			for i < len(s) && s[i] != c {
				if s[i] == '\\' && c != '`' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated string starting at byte %d", start)
			}
			i++
			kind = tokString
		case '0' <= c && c <= '9':
			for i < len(s) && (isWordByte(s[i]) || s[i] == '.' && i+1 < len(s) && '0' <= s[i+1] && s[i+1] <= '9') {
				i++
			}
			kind = tokNumber
		case isWordStart(c):
			for i < len(s) && isWordByte(s[i]) {
				i++
			}
			kind = tokWord
			if strings.HasPrefix(s[start:], "loop_") { // the id of loop_<id>_continue may hold '-'
				j := start
				for j < len(s) && (isWordByte(s[j]) || s[j] == '-') {
					j++
				}
				if j > i && loopPhrase(s[start:j]) {
					i = j
				}
			}
		default:
			i++
			for _, op := range multiOps {
				if strings.HasPrefix(s[start:], op) {
					i = start + len(op)
					break
				}
			}
			kind = tokOp
		}
		out = append(out, token{kind: kind, start: start, end: i, text: s[start:i]})
	}
	return out, nil
}

// loopPhrase reports whether w is loop_<id>_<state> with a non-empty id.
func loopPhrase(w string) bool {
	_, _, ok := loopParts(w)
	return ok
}

func loopParts(w string) (id string, cont, ok bool) {
	if !strings.HasPrefix(w, "loop_") {
		return "", false, false
	}
	for _, st := range loopStates {
		if rest, found := strings.CutSuffix(w[len("loop_"):], st); found && rest != "" {
			return rest, st == "_continue", true
		}
	}
	return "", false, false
}

// phraseWords are the single-word phrases (case-insensitive) and what they mean.
var phraseWords = map[string]string{
	"has_tool_calls": "has_tool_calls", "tool_calls_pending": "has_tool_calls", "should_use_tools": "has_tool_calls",
	"no_tool_calls": "!has_tool_calls", "has_errors": "has_errors", "no_errors": "!has_errors",
	"always": "true", "true": "true",
}

// phraseOps are the comparison words of the variable phrase, by how many words they
// take, and the operator each becomes.
var phraseOps = []struct {
	words []string
	op    string
}{
	{[]string{"not", "equals"}, "!="}, {[]string{"is", "not"}, "!="}, {[]string{"equals"}, "=="}, {[]string{"is"}, "=="},
	{[]string{"contains"}, "contains"},
	{[]string{"=="}, "=="}, {[]string{"!="}, "!="}, {[]string{">="}, ">="}, {[]string{"<="}, "<="}, {[]string{">"}, ">"}, {[]string{"<"}, "<"},
}

// messageOps are the message phrase's verbs and the expr-lang operator of each.
var messageOps = []struct {
	words []string
	op    string
}{
	{[]string{"contains"}, "contains"}, {[]string{"equals"}, "=="},
	{[]string{"starts", "with"}, "startsWith"}, {[]string{"ends", "with"}, "endsWith"},
}

// phraser rewrites the phrases of one condition.
type phraser struct {
	src  string
	toks []token // significant tokens (spaces dropped)
	out  strings.Builder
	last int // source offset copied up to
}

// TranslateCondition turns the predecessor's phrases inside a condition into
// expr-lang (see the comment at the top of phrase.go); the rest is kept as written.
func TranslateCondition(src string) (string, error) {
	s := strings.TrimSpace(src)
	if s == "" {
		return "", fmt.Errorf("empty condition")
	}
	all, err := tokenize(s)
	if err != nil {
		return "", err
	}
	p := &phraser{src: s}
	for _, t := range all {
		if t.kind != tokSpace {
			p.toks = append(p.toks, t)
		}
	}
	for i := 0; i < len(p.toks); {
		n, x, err := p.phrase(i)
		if err != nil {
			return "", err
		}
		if n == 0 {
			i++
			continue
		}
		whole := i == 0 && n == len(p.toks)
		if op := x == "&&" || x == "||" || x == "!"; !whole && !op && needsParens(x) {
			x = "(" + x + ")"
		}
		p.replace(i, i+n, x)
		i += n
	}
	p.out.WriteString(s[p.last:])
	return p.out.String(), nil
}

// replace writes x in place of tokens [from, to).
func (p *phraser) replace(from, to int, x string) {
	p.out.WriteString(p.src[p.last:p.toks[from].start])
	p.out.WriteString(x)
	p.last = p.toks[to-1].end
}

func (p *phraser) word(i int) string {
	if i < 0 || i >= len(p.toks) {
		return ""
	}
	return strings.ToLower(p.toks[i].text) // a string keeps its quotes, so it is never a keyword
}

// words reports whether the tokens from i spell ws (case-insensitive).
func (p *phraser) words(i int, ws ...string) bool {
	for k, w := range ws {
		if p.word(i+k) != w {
			return false
		}
	}
	return true
}

// connective reports whether token i ends a phrase's free-text value.
func (p *phraser) connective(i int) bool {
	switch p.word(i) {
	case "and", "or", "&&", "||", ")", ",":
		return true
	}
	return false
}

// phrase recognises a phrase at token i: how many tokens it spans and its
// expression (0 when none starts there).
func (p *phraser) phrase(i int) (int, string, error) {
	t := p.toks[i]
	if t.kind != tokWord {
		return 0, "", nil
	}
	w := strings.ToLower(t.text)
	switch t.text {
	case "AND", "OR", "NOT":
		sym := map[string]string{"AND": "&&", "OR": "||", "NOT": "!"}[t.text]
		if t.text != "NOT" {
			switch p.word(i - 1) {
			case "", "and", "or", "&&", "||", "(", "!", "not":
				return 0, "", fmt.Errorf("empty condition before %s", t.text)
			}
		}
		switch p.word(i + 1) {
		case "", "and", "or", "&&", "||", ")":
			return 0, "", fmt.Errorf("empty condition after %s", t.text)
		}
		return 1, sym, nil
	}
	if id, cont, ok := loopParts(t.text); ok {
		x := "(loop[" + strconv.Quote(id) + "]?.continue ?? false)"
		if !cont {
			x = "!" + x
		}
		return 1, x, nil
	}
	switch {
	case p.words(i, "has", "tool", "calls"):
		return 3, "has_tool_calls", nil
	case p.words(i, "no", "tool", "calls"):
		return 3, "!has_tool_calls", nil
	case p.words(i, "has", "errors"):
		return 2, "has_errors", nil
	case p.words(i, "no", "errors"):
		return 2, "!has_errors", nil
	case w == "variable":
		return p.variable(i)
	case w == "message":
		return p.message(i)
	}
	if x, ok := phraseWords[w]; ok && !p.member(i) {
		if x == t.text {
			return 0, "", nil
		}
		return 1, x, nil
	}
	return 0, "", nil
}

// member reports whether token i is a member name (after "." or "?."), which is
// never a phrase.
func (p *phraser) member(i int) bool {
	return i > 0 && (p.toks[i-1].text == "." || p.toks[i-1].text == "?.")
}

// variable reads `variable NAME [op VALUE | exists | is set | is empty]`.
func (p *phraser) variable(i int) (int, string, error) {
	if p.member(i) || i+1 >= len(p.toks) {
		return 0, "", nil
	}
	// NAME is the source up to the next space, so dotted and dashed names
	// (user.tier, my-var) are one name, as the predecessor read them.
	nameStart := p.toks[i+1].start
	nameEnd := nameStart
	for nameEnd < len(p.src) && (isWordByte(p.src[nameEnd]) || p.src[nameEnd] == '.' || p.src[nameEnd] == '-') {
		nameEnd++
	}
	if nameEnd == nameStart || !isWordStart(p.src[nameStart]) {
		return 0, "", nil
	}
	name := p.src[nameStart:nameEnd]
	j := i + 1
	for j < len(p.toks) && p.toks[j].end <= nameEnd {
		j++
	}
	ref := varRef(name)
	switch {
	case p.words(j, "exists"):
		return j + 1 - i, ref + " != nil", nil
	case p.words(j, "is", "set"):
		return j + 2 - i, ref + " != nil", nil
	case p.words(j, "is", "empty"):
		return j + 2 - i, "(" + ref + " ?? \"\") in [\"\", nil]", nil
	}
	for _, op := range phraseOps {
		if !p.words(j, op.words...) {
			continue
		}
		k := j + len(op.words)
		n, lit, ok := p.value(k)
		if !ok {
			return 0, "", fmt.Errorf("does not compile: %q needs a value after %q", "variable "+name, strings.Join(op.words, " "))
		}
		return k + n - i, ref + " " + op.op + " " + lit, nil
	}
	if name == "max_tool_calls" { // the run's limit unless the run set its own
		ref = "(" + ref + " ?? max_tool_calls)"
	}
	return j - i, ref, nil
}

// message reads `message contains|equals|starts with|ends with TEXT`,
// case-insensitive as the predecessor compared.
func (p *phraser) message(i int) (int, string, error) {
	if p.member(i) {
		return 0, "", nil
	}
	for _, op := range messageOps {
		if !p.words(i+1, op.words...) {
			continue
		}
		k := i + 1 + len(op.words)
		n, text, ok := p.text(k)
		if !ok {
			return 0, "", nil // left to expr-lang, which names what is missing
		}
		return k + n - i, "lower(message) " + op.op + " " + strconv.Quote(strings.ToLower(text)), nil
	}
	return 0, "", nil
}

// value reads a phrase's value at token k: a string, or free text up to a
// connective. Numbers and booleans stay typed; other text becomes a string.
func (p *phraser) value(k int) (int, string, bool) {
	if k < len(p.toks) && p.toks[k].kind == tokString {
		return 1, strconv.Quote(unquoteToken(p.toks[k].text)), true
	}
	n, text, ok := p.text(k)
	if !ok {
		return 0, "", false
	}
	if _, err := strconv.ParseFloat(text, 64); err == nil {
		return n, text, true
	}
	switch text {
	case "true", "false", "nil":
		return n, text, true
	}
	return n, strconv.Quote(text), true
}

// text reads a string token, or the source of the tokens from k up to a connective.
func (p *phraser) text(k int) (int, string, bool) {
	if k >= len(p.toks) {
		return 0, "", false
	}
	if p.toks[k].kind == tokString {
		return 1, unquoteToken(p.toks[k].text), true
	}
	j := k
	for j < len(p.toks) && !p.connective(j) && p.toks[j].kind != tokString {
		j++
	}
	if j == k {
		return 0, "", false
	}
	return j - k, p.src[p.toks[k].start:p.toks[j-1].end], true
}

// unquoteToken returns a string token's value.
func unquoteToken(q string) string {
	if q[0] == '\'' { // expr-lang's single quotes: a \' inside is a quote
		q = `"` + strings.ReplaceAll(strings.ReplaceAll(q[1:len(q)-1], `\'`, `'`), `"`, `\"`) + `"`
	}
	if s, err := strconv.Unquote(q); err == nil {
		return s
	}
	return q[1 : len(q)-1]
}

// needsParens reports whether x must be parenthesised to stand as one operand.
func needsParens(x string) bool {
	if x == "" {
		return false
	}
	simple := true
	for i := 0; i < len(x); i++ {
		if !isWordByte(x[i]) {
			simple = false
			break
		}
	}
	if simple || strings.HasPrefix(x, "variables[") && strings.IndexByte(x, ']') == len(x)-1 {
		return false
	}
	if x[0] == '(' || x[0] == '!' && len(x) > 1 && x[1] == '(' {
		start := strings.IndexByte(x, '(')
		depth := 0
		for i := start; i < len(x); i++ {
			switch x[i] {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					return i != len(x)-1
				}
			}
		}
	}
	return true
}

func varRef(name string) string { return "variables[" + strconv.Quote(name) + "]" }
