package userexpr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
)

// Doc documents one function of the library (GET /workflows/node-types).
type Doc struct {
	Name        string `json:"name"`
	Signature   string `json:"signature"`
	Description string `json:"description"`
}

// entry is one allowlisted function: an expr predicate (every iteration costs a
// step), an expr builtin that allocates nothing in proportion to its input (enabled
// as is), or a function of ours that charges what it allocates (fn).
type entry struct {
	Doc
	predicate bool
	fn        *Function
}

// library is the allowlist: everything an expression of a Library language may call.
// Left out on purpose, because they allocate in proportion to a number or a
// collection the expression chooses (repeat, replace, join, splitAfter, concat,
// flatten, toPairs, keys, values, groupBy, sortBy, reduce, sort, uniq, toJSON,
// fromJSON, toBase64, fromBase64, string, median), or read the clock (now, date,
// duration, timezone).
var library = []entry{
	{Doc: Doc{"all", "all(array, {predicate}) bool", "true when the predicate holds for every element (# is the element)"}, predicate: true},
	{Doc: Doc{"any", "any(array, {predicate}) bool", "true when the predicate holds for some element"}, predicate: true},
	{Doc: Doc{"none", "none(array, {predicate}) bool", "true when the predicate holds for no element"}, predicate: true},
	{Doc: Doc{"one", "one(array, {predicate}) bool", "true when the predicate holds for exactly one element"}, predicate: true},
	{Doc: Doc{"filter", "filter(array, {predicate}) array", "the elements for which the predicate holds"}, predicate: true},
	{Doc: Doc{"map", "map(array, {expression}) array", "the expression for each element"}, predicate: true},
	{Doc: Doc{"count", "count(array[, {predicate}]) int", "how many elements the predicate holds for (without one: how many are true)"}, predicate: true},
	{Doc: Doc{"sum", "sum(array[, {expression}]) number", "the sum of the elements (or of the expression for each)"}, predicate: true},
	{Doc: Doc{"find", "find(array, {predicate}) any", "the first element the predicate holds for, or nil"}, predicate: true},
	{Doc: Doc{"findIndex", "findIndex(array, {predicate}) int", "the index of the first element the predicate holds for, or -1"}, predicate: true},
	{Doc: Doc{"findLast", "findLast(array, {predicate}) any", "the last element the predicate holds for, or nil"}, predicate: true},
	{Doc: Doc{"findLastIndex", "findLastIndex(array, {predicate}) int", "the index of the last element the predicate holds for, or -1"}, predicate: true},
	{Doc: Doc{"len", "len(string|array|map) int", "the length (characters of a string)"}},
	{Doc: Doc{"abs", "abs(number) number", "the absolute value"}},
	{Doc: Doc{"ceil", "ceil(number) float", "rounds up"}},
	{Doc: Doc{"floor", "floor(number) float", "rounds down"}},
	{Doc: Doc{"round", "round(number) float", "rounds half away from zero"}},
	{Doc: Doc{"min", "min(number...|array) number", "the smallest"}},
	{Doc: Doc{"max", "max(number...|array) number", "the largest"}},
	{Doc: Doc{"trim", "trim(string[, cutset]) string", "without leading and trailing white space (or cutset characters)"}},
	{Doc: Doc{"trimPrefix", "trimPrefix(string, prefix) string", "without the prefix"}},
	{Doc: Doc{"trimSuffix", "trimSuffix(string, suffix) string", "without the suffix"}},
	{Doc: Doc{"hasPrefix", "hasPrefix(string, prefix) bool", "whether the string starts with prefix (also: s startsWith p)"}},
	{Doc: Doc{"hasSuffix", "hasSuffix(string, suffix) bool", "whether the string ends with suffix (also: s endsWith p)"}},
	{Doc: Doc{"indexOf", "indexOf(string, substring) int", "the byte index of the first occurrence, or -1"}},
	{Doc: Doc{"lastIndexOf", "lastIndexOf(string, substring) int", "the byte index of the last occurrence, or -1"}},
	{Doc: Doc{"first", "first(array) any", "the first element, or nil"}},
	{Doc: Doc{"last", "last(array) any", "the last element, or nil"}},
	{Doc: Doc{"get", "get(array|map, index|key) any", "the element, or nil when absent"}},
	{Doc: Doc{"lower", "lower(string) string", "lower case (charged to the bytes budget)"}, fn: &Function{Name: "lower", Fn: caseFn(strings.ToLower), Types: []any{new(func(string) string)}}},
	{Doc: Doc{"upper", "upper(string) string", "upper case (charged to the bytes budget)"}, fn: &Function{Name: "upper", Fn: caseFn(strings.ToUpper), Types: []any{new(func(string) string)}}},
	{Doc: Doc{"split", "split(string, separator[, n]) array", "the parts between separators, at most n when given (charged to the bytes budget)"}, fn: &Function{Name: "split", Fn: split,
		Types: []any{new(func(string, string) []string), new(func(string, string, int) []string)}}},
	{Doc: Doc{"int", "int(number|string) int", "the integer (a string must hold one)"}, fn: &Function{Name: "int", Fn: toInt,
		Types: []any{new(func(int) int), new(func(float64) int), new(func(string) int)}}},
	{Doc: Doc{"float", "float(number|string) float", "the number as a float (a string must hold one)"}, fn: &Function{Name: "float", Fn: toFloat,
		Types: []any{new(func(float64) float64), new(func(int) float64), new(func(string) float64)}}},
}

// Library documents the functions a Library language offers, in a stable order.
func Library() []Doc {
	out := make([]Doc, len(library))
	for i, e := range library {
		out[i] = e.Doc
	}
	return out
}

// internalFunctions are what the guard's rewrites call. Their $-names cannot be
// written in an expression.
func internalFunctions() []Function {
	return []Function{
		{Name: "$tick", Fn: func(*Meter, ...any) (any, error) { return nil, nil }}, // the call is the step
		{Name: "$concat", Fn: concat, Types: []any{new(func(string, string) string)}},
		{Name: "$add", Fn: add},
	}
}

// concat is string + string, charged before the new string exists.
func concat(m *Meter, args ...any) (any, error) {
	a, b := args[0].(string), args[1].(string)
	if err := m.Charge(len(a) + len(b)); err != nil {
		return nil, err
	}
	return a + b, nil
}

// add is + on operands the checker could not type: strings are concatenated on the
// Meter, anything else is expr's own +.
func add(m *Meter, args ...any) (any, error) {
	if a, ok := args[0].(string); ok {
		if b, ok := args[1].(string); ok {
			return concat(m, a, b)
		}
	}
	return runtime.Add(args[0], args[1]), nil
}

// caseFn charges the input's length (the size of the result for ASCII text) before
// converting, and the growth after, which non-ASCII case mappings can add up to a
// small factor of an input the budgets already bound. An unchanged string is shared,
// not copied, and costs nothing.
func caseFn(f func(string) string) func(*Meter, ...any) (any, error) {
	return func(m *Meter, args ...any) (any, error) {
		s := args[0].(string)
		if err := m.Charge(len(s)); err != nil {
			return nil, err
		}
		r := f(s)
		switch {
		case len(r) == len(s) && unsafe.StringData(r) == unsafe.StringData(s):
			m.bytes -= len(s) // shared: refund
		case len(r) > len(s):
			if err := m.Charge(len(r) - len(s)); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
}

// split charges the parts' headers (the parts share the input's bytes) before
// building them.
func split(m *Meter, args ...any) (any, error) {
	s, sep := args[0].(string), args[1].(string)
	n := -1
	if len(args) == 3 {
		n = args[2].(int)
	}
	parts := 0
	switch {
	case n == 0:
		return []string{}, nil
	case sep == "":
		parts = utf8.RuneCountInString(s)
	default:
		parts = strings.Count(s, sep) + 1
	}
	if n > 0 && parts > n {
		parts = n
	}
	if err := m.Charge(parts * int(unsafe.Sizeof(""))); err != nil {
		return nil, err
	}
	return strings.SplitN(s, sep, n), nil
}

var (
	errNotInteger = errors.New("int: the string does not hold an integer")
	errNotNumber  = errors.New("float: the string does not hold a number")
)

// toInt is expr's int, except that a string that is not an integer fails without
// quoting it (it may be the user's message).
func toInt(_ *Meter, args ...any) (any, error) {
	if s, ok := args[0].(string); ok {
		i, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, errNotInteger
		}
		return i, nil
	}
	return numeric("int", builtin.Int, args[0])
}

// toFloat is expr's float, with the same care as toInt.
func toFloat(_ *Meter, args ...any) (any, error) {
	if s, ok := args[0].(string); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, errNotNumber
		}
		return f, nil
	}
	return numeric("float", builtin.Float, args[0])
}

func numeric(name string, conv func(any) any, v any) (out any, err error) {
	defer func() {
		if recover() != nil {
			out, err = nil, fmt.Errorf("%s: cannot convert %T", name, v)
		}
	}()
	return conv(v), nil
}
