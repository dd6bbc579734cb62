package executor

import "testing"

func TestReplyText_JoinsPartsWithABlankLine(t *testing.T) {
	tests := []struct {
		name string
		do   func(*replyText)
		want string
	}{
		{"none", func(*replyText) {}, ""},
		{"one part", func(r *replyText) { r.add("a") }, "a"},
		{"three parts", func(r *replyText) { r.add("a"); r.add("b"); r.add("c") }, "a\n\nb\n\nc"},
		{"set then add", func(r *replyText) { r.add("a"); r.add("b"); r.set("x"); r.add("y") }, "x\n\ny"},
		{"set empty then add", func(r *replyText) { r.add("a"); r.set(""); r.add("y") }, "y"},
	}
	for _, tt := range tests {
		var r replyText
		tt.do(&r)
		if got := r.String(); got != tt.want || r.Len() != len(tt.want) {
			t.Errorf("%s: %q (len %d), want %q", tt.name, got, r.Len(), tt.want)
		}
	}
}
