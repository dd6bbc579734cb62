package extract

import (
	"context"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// skipped elements hold no reading text.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Svg: true, atom.Math: true, atom.Iframe: true, atom.Object: true, atom.Embed: true,
	atom.Canvas: true, atom.Head: true, atom.Select: true, atom.Button: true,
}

// blocks end a line of text before and after them.
var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.Ul: true, atom.Ol: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Tr: true, atom.Table: true, atom.Section: true, atom.Article: true, atom.Header: true,
	atom.Footer: true, atom.Nav: true, atom.Aside: true, atom.Main: true, atom.Pre: true,
	atom.Blockquote: true, atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Hr: true,
	atom.Figure: true, atom.Figcaption: true, atom.Caption: true, atom.Address: true,
	atom.Form: true, atom.Fieldset: true, atom.Details: true, atom.Summary: true,
}

// paragraphs are blocks that also leave a blank line, so chunking can break there.
var paragraphs = map[atom.Atom]bool{
	atom.P: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true,
	atom.H6: true, atom.Table: true, atom.Pre: true, atom.Blockquote: true, atom.Section: true,
	atom.Article: true, atom.Ul: true, atom.Ol: true,
}

// htmlText writes the title and the body's text.
func htmlText(ctx context.Context, src string, out *limited) error {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return err
	}
	var title, body *html.Node
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch {
		case n.DataAtom == atom.Title && title == nil:
			title = n
		case n.DataAtom == atom.Body && body == nil:
			body = n
		}
	}
	if title != nil {
		for c := range title.Descendants() {
			if c.Type == html.TextNode {
				if err := out.WriteString(c.Data); err != nil {
					return err
				}
			}
		}
		if err := out.WriteString("\n\n"); err != nil {
			return err
		}
	}
	if body == nil {
		body = doc
	}
	w := htmlWalker{ctx: ctx, out: out}
	return w.walk(body)
}

type htmlWalker struct {
	ctx     context.Context
	out     *limited
	nodes   int
	pending int // line ends owed before the next text: the most any block asked for
	pre     int // depth inside <pre>, where line ends are text
	wrote   bool
}

func (w *htmlWalker) text(s string) error {
	if w.pre == 0 {
		s = strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == '\t' || r == '\f' {
				return ' '
			}
			return r
		}, s)
	}
	if strings.TrimSpace(s) == "" && w.pre == 0 {
		if w.wrote && w.pending == 0 {
			return w.out.WriteString(" ")
		}
		return nil
	}
	if w.wrote && w.pending > 0 {
		if err := w.out.WriteString(strings.Repeat("\n", w.pending)); err != nil {
			return err
		}
	}
	w.pending, w.wrote = 0, true
	return w.out.WriteString(s)
}

func (w *htmlWalker) brk(n int) { w.pending = max(w.pending, n) }

func (w *htmlWalker) walk(n *html.Node) error {
	if w.nodes++; w.nodes%1024 == 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
	switch n.Type {
	case html.TextNode:
		return w.text(n.Data)
	case html.ElementNode:
		if skipped[n.DataAtom] {
			return nil
		}
		if n.DataAtom == atom.Img {
			for _, a := range n.Attr {
				if a.Key == "alt" && strings.TrimSpace(a.Val) != "" {
					return w.text(" " + a.Val + " ")
				}
			}
			return nil
		}
	}
	lines := 0
	switch {
	case n.Type != html.ElementNode:
	case paragraphs[n.DataAtom]:
		lines = 2
	case blocks[n.DataAtom]:
		lines = 1
	case n.DataAtom == atom.Td || n.DataAtom == atom.Th:
		if err := w.text(" "); err != nil {
			return err
		}
	}
	w.brk(lines)
	if n.DataAtom == atom.Pre {
		w.pre++
		defer func() { w.pre-- }()
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if err := w.walk(c); err != nil {
			return err
		}
	}
	w.brk(lines)
	return nil
}
