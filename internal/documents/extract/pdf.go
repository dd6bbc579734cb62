package extract

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/ledongthuc/pdf"
)

// maxPageTreeDepth bounds the walk of a PDF's page tree: real files nest a few
// levels, a hostile one may loop.
const maxPageTreeDepth = 32

// pdfText writes the text layer of each page, a blank line between pages.
func pdfText(ctx context.Context, data []byte, out *limited) error {
	if bytes.HasPrefix(data, []byte("%PDF-2.")) {
		// The library checks for "%PDF-1.[0-7]"; PDF 2.0 files differ in features,
		// not in the structure it reads.
		data = bytes.Clone(data)
		copy(data, "%PDF-1.7")
	}
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if strings.Contains(err.Error(), "password") || strings.Contains(err.Error(), "encrypt") {
			return &Error{Kind: ErrCorrupt, Reason: "the PDF is encrypted", Err: err}
		}
		return &Error{Kind: ErrCorrupt, Reason: "not a readable PDF: " + err.Error(), Err: err}
	}
	pages, err := pageList(r.Trailer().Key("Root").Key("Pages"))
	if err != nil {
		return err
	}
	for i, p := range pages {
		if err := ctx.Err(); err != nil {
			return err
		}
		text, err := p.GetPlainText(nil)
		if err != nil {
			return &Error{Kind: ErrCorrupt, Reason: fmt.Sprintf("page %d: %v", i+1, err), Err: err}
		}
		if err := out.WriteString(text); err != nil {
			return err
		}
		if err := out.WriteString("\n\n"); err != nil {
			return err
		}
	}
	return nil
}

// pageList collects the leaves of the page tree in order, at most MaxPDFPages of
// them, walking at most maxPageTreeDepth levels and 2×MaxPDFPages nodes (so a
// cycle in the tree ends there).
func pageList(root pdf.Value) ([]pdf.Page, error) {
	var pages []pdf.Page
	visits := 0
	var walk func(v pdf.Value, depth int) error
	walk = func(v pdf.Value, depth int) error {
		if visits++; depth > maxPageTreeDepth || visits > 2*MaxPDFPages {
			return &Error{Kind: ErrCorrupt, Reason: "the PDF page tree is too deep or loops"}
		}
		switch v.Key("Type").Name() {
		case "Pages":
			kids := v.Key("Kids")
			for i := 0; i < kids.Len(); i++ {
				if err := walk(kids.Index(i), depth+1); err != nil {
					return err
				}
			}
		case "Page":
			if len(pages) == MaxPDFPages {
				return &Error{Kind: ErrTooLarge, Reason: fmt.Sprintf("more than %d pages", MaxPDFPages)}
			}
			pages = append(pages, pdf.Page{V: v})
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	return pages, nil
}
