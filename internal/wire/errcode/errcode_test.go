package errcode

import (
	"go/build"
	"strings"
	"testing"
)

func TestEveryCodeHasAClientOrServerStatusAndATitle(t *testing.T) {
	if len(All()) != 25 {
		t.Errorf("%d codes, want 25: a code was added or lost without this test knowing", len(All()))
	}
	for _, c := range All() {
		i := Of(c)
		if i.Status < 400 || i.Status > 599 || i.Title == "" || !Known(c) {
			t.Errorf("%s: %+v", c, i)
		}
		if i.Internal != (i.Status >= 500 && c != LLM && c != Timeout) {
			t.Errorf("%s: internal = %v with status %d", c, i.Internal, i.Status)
		}
	}
	if Known("invalid") || Of("invalid") != Of(Internal) {
		t.Error(`"invalid" is not a code (invalid_input is); unknown codes are internal`)
	}
}

func TestIsALeaf(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range p.Imports {
		if strings.Contains(imp, "chatterhq/chatter") {
			t.Errorf("errcode imports %s: every package imports errcode, so it must import none of them", imp)
		}
	}
}
