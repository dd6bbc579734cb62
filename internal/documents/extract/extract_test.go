package extract_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/chatterhq/chatter/internal/documents/extract"
)

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// makePDF renders pages of text with fpdf (compressed content streams, the
// standard Helvetica font), as a word processor's export would be.
func makePDF(t testing.TB, pages ...[]string) []byte {
	t.Helper()
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetFont("Helvetica", "", 12)
	for _, lines := range pages {
		doc.AddPage()
		for _, l := range lines {
			doc.Cell(0, 8, l)
			doc.Ln(8)
		}
	}
	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtract_PDF(t *testing.T) {
	ctx := testCtx(t)
	data := makePDF(t,
		[]string{"Refund policy", "Refunds are issued within 14 days."},
		[]string{"Shipping takes three days."},
	)
	got, err := extract.Extract(ctx, "policy.pdf", "application/pdf", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Refund policy", "Refunds are issued within 14 days.", "Shipping takes three days."} {
		if !strings.Contains(got, want) {
			t.Errorf("text %q lacks %q", got, want)
		}
	}
	if strings.Index(got, "Refunds") > strings.Index(got, "Shipping") {
		t.Errorf("pages out of order: %q", got)
	}
	if !strings.Contains(got, "\n\n") {
		t.Errorf("no blank line between pages: %q", got)
	}
}

func TestExtract_PDF2HeaderIsRead(t *testing.T) {
	data := makePDF(t, []string{"Version two"})
	data = append([]byte("%PDF-2.0"), data[len("%PDF-1.x"):]...)
	got, err := extract.Extract(testCtx(t), "v2.pdf", "", data)
	if err != nil || !strings.Contains(got, "Version two") {
		t.Fatalf("PDF 2.0: %q, %v", got, err)
	}
}

func TestExtract_CorruptPDFsFailAsCorrupt(t *testing.T) {
	ctx := testCtx(t)
	good := makePDF(t, []string{"Hello there"})
	truncated := good[:len(good)/2]
	garbled := bytes.Clone(good)
	for i := len(garbled) / 4; i < len(garbled)*3/4; i += 7 {
		garbled[i] ^= 0x5a
	}
	noXref := bytes.ReplaceAll(bytes.Clone(good), []byte("startxref"), []byte("startxreg"))
	cases := map[string][]byte{
		"not a pdf":  []byte("%PDF-1.4\nthis is not really a pdf\n%%EOF\n"),
		"truncated":  truncated,
		"garbled":    garbled,
		"no xref":    noXref,
		"tiny":       []byte("%PDF-1.4"),
		"empty body": []byte("%PDF-1.7\n%%EOF"),
	}
	for name, data := range cases {
		_, err := extract.Extract(ctx, name+".pdf", "application/pdf", data)
		var e *extract.Error
		if !errors.As(err, &e) || (!errors.Is(err, extract.ErrCorrupt) && !errors.Is(err, extract.ErrNoText)) || e.Reason == "" {
			t.Errorf("%s: error %v, want a corrupt (or no text) extract.Error with a reason", name, err)
		}
	}
}

// loopingPDF is a handwritten PDF whose page tree points back at itself.
func loopingPDF() []byte {
	var b bytes.Buffer
	offsets := []int{}
	b.WriteString("%PDF-1.4\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [2 0 R 2 0 R] /Count 2 >>",
	}
	for i, o := range objs {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func TestExtract_LoopingPageTreeEnds(t *testing.T) {
	ctx := testCtx(t)
	start := time.Now()
	_, err := extract.Extract(ctx, "loop.pdf", "application/pdf", loopingPDF())
	if !errors.Is(err, extract.ErrCorrupt) {
		t.Fatalf("error %v, want corrupt", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestExtract_PDFWithoutTextHasNoText(t *testing.T) {
	doc := fpdf.New("P", "mm", "A4", "")
	doc.AddPage()
	doc.Rect(10, 10, 50, 50, "F") // a drawing, like a scan's image, and no text
	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		t.Fatal(err)
	}
	_, err := extract.Extract(testCtx(t), "scan.pdf", "application/pdf", buf.Bytes())
	if !errors.Is(err, extract.ErrNoText) || !strings.Contains(err.Error(), "OCR") {
		t.Fatalf("error %v, want no text naming OCR", err)
	}
}

func TestExtract_HTML(t *testing.T) {
	src := `<!doctype html><html><head><title>Help centre</title>
<style>body { color: red }</style><script>var secret = "do not index";</script></head>
<body><nav>Home</nav><h1>Refunds</h1><p>Refunds are issued
   within <b>14 days</b>.</p><noscript>Enable JS</noscript>
<ul><li>Card</li><li>PayPal</li></ul><img src="x.png" alt="refund form">
<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>10&nbsp;€</td></tr></table>
<script>alert(1)</script><template><p>hidden</p></template></body></html>`
	got, err := extract.Extract(testCtx(t), "help.html", "text/html; charset=utf-8", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Help centre", "Refunds", "Refunds are issued within 14 days.", "Card", "PayPal", "refund form", "Plan Price", "Pro 10 €"} {
		if !strings.Contains(got, want) {
			t.Errorf("text %q lacks %q", got, want)
		}
	}
	for _, bad := range []string{"color", "secret", "alert", "Enable JS", "hidden", "<"} {
		if strings.Contains(got, bad) {
			t.Errorf("text %q contains %q", got, bad)
		}
	}
	if !strings.Contains(got, "Refunds\n\nRefunds are issued") {
		t.Errorf("heading and paragraph not separated by a blank line: %q", got)
	}
}

func TestExtract_Markdown(t *testing.T) {
	src := "---\ntitle: Policy\ntags: [a]\n---\n# Refund *policy*\n\nRefunds are **issued** within _14 days_; see [the form](https://example.com/form \"Form\").\n\n" +
		"> Quoted ~~old~~ rule\n\n- first item\n* second item\n1. third item\n- [x] done task\n\n" +
		"| Plan | Price |\n|------|------:|\n| Pro | 10 |\n\n![diagram](img.png)\n\n```go\nfunc main() {}\n```\n\n***\n\n" +
		"Use `snake_case_names` and <https://example.com>.<br/>\n\n[ref]: https://example.com\n*one* *two* _three_ 2*3*4\n"
	got, err := extract.Extract(testCtx(t), "README.md", "", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := "Refund policy\n\nRefunds are issued within 14 days; see the form.\n\nQuoted old rule\n\n" +
		"first item\nsecond item\nthird item\ndone task\n\nPlan Price\nPro 10\n\ndiagram\n\nfunc main() {}\n\n" +
		"Use snake_case_names and https://example.com.\n\none two three 2*3*4"
	if got != want {
		t.Errorf("markdown text:\n%q\nwant\n%q", got, want)
	}
}

func TestExtract_PlainText(t *testing.T) {
	ctx := testCtx(t)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"utf8.txt", []byte("\uFEFFHello,\r\n\r\n\r\n  wörld\t\tagain  \n"), "Hello,\n\nwörld again"},
		{"latin1.txt", []byte("caf\xe9 cr\xe8me"), "café crème"},
		{"utf16.txt", []byte{0xFF, 0xFE, 'h', 0, 'i', 0, 0xe9, 0}, "hié"},
		{"data.csv", []byte("a,b\n1,2\n"), "a,b\n1,2"},
	}
	for _, tt := range tests {
		got, err := extract.Extract(ctx, tt.name, "", tt.data)
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := extract.Extract(ctx, "blob.txt", "text/plain", []byte("ab\x00\x00\x01\x02")); !errors.Is(err, extract.ErrCorrupt) {
		t.Errorf("binary posing as text: %v", err)
	}
	if _, err := extract.Extract(ctx, "empty.txt", "text/plain", []byte(" \n\t")); !errors.Is(err, extract.ErrNoText) {
		t.Errorf("blank file: %v", err)
	}
}

func TestDetect_ContentTypeThenExtensionThenSniffing(t *testing.T) {
	pdfData := makePDF(t, []string{"x"})
	tests := []struct {
		filename, contentType string
		data                  []byte
		want                  extract.Type
	}{
		{"notes.bin", "text/markdown; charset=utf-8", []byte("# x"), extract.Markdown},
		{"page.txt", "TEXT/HTML", []byte("<p>x</p>"), extract.HTML}, // the content type wins over the name
		{"report.PDF", "application/octet-stream", pdfData, extract.PDF},
		{"notes.md", "", []byte("# x"), extract.Markdown},
		{"index.htm", "", []byte("x"), extract.HTML},
		{"upload", "", pdfData, extract.PDF},
		{"upload", "", []byte("<!DOCTYPE html><html><body>x</body></html>"), extract.HTML},
		{"upload", "binary/octet-stream", []byte("just words"), extract.Text},
	}
	for _, tt := range tests {
		got, err := extract.Detect(tt.filename, tt.contentType, tt.data)
		if err != nil || got != tt.want {
			t.Errorf("Detect(%q, %q) = %q, %v; want %q", tt.filename, tt.contentType, got, err, tt.want)
		}
	}
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	for _, tt := range []struct{ filename, contentType string }{
		{"photo.png", "image/png"},
		{"letter.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"photo.png", ""},
		{"upload", ""},
	} {
		_, err := extract.Extract(testCtx(t), tt.filename, tt.contentType, png)
		var e *extract.Error
		if !errors.Is(err, extract.ErrUnsupported) || !errors.As(err, &e) || e.Filename != tt.filename || e.Type == "" {
			t.Errorf("%s (%s): error %v, want unsupported naming the file and its type", tt.filename, tt.contentType, err)
		}
	}
}

func TestExtract_TooMuchTextStops(t *testing.T) {
	big := strings.Repeat("word ", extract.MaxTextBytes/5+10)
	_, err := extract.Extract(testCtx(t), "big.txt", "text/plain", []byte(big))
	if !errors.Is(err, extract.ErrTooLarge) {
		t.Fatalf("error %v, want too large", err)
	}
	html := "<html><body>" + strings.Repeat("<p>word word word</p>", extract.MaxTextBytes/10) + "</body></html>"
	if _, err := extract.Extract(testCtx(t), "big.html", "", []byte(html)); !errors.Is(err, extract.ErrTooLarge) {
		t.Fatalf("HTML: error %v, want too large", err)
	}
}

func TestExtract_HonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := extract.Extract(ctx, "a.txt", "text/plain", []byte("hello"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	var e *extract.Error
	if errors.As(err, &e) {
		t.Fatalf("a cancelled context was reported as a verdict on the file: %v", err)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("a.pdf", []byte("%PDF-1.4\n1 0 obj << >> endobj\nstartxref\n0\n%%EOF"))
	f.Add("a.html", []byte("<p>x</p>"))
	f.Add("a.md", []byte("# x\n[a](b)"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		text, err := extract.Extract(ctx, name, "", data)
		var e *extract.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error %v is not an extract.Error", err)
		}
		if err == nil && text == "" {
			t.Fatal("no error and no text")
		}
	})
}
