package extract

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

func TestExtract_OverTimeBudgetIsCorrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetFont("Helvetica", "", 12)
	for i := 0; i < 200; i++ {
		doc.AddPage()
		doc.Cell(0, 8, strings.Repeat("slow page ", 10))
	}
	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		t.Fatal(err)
	}
	_, err := extract(ctx, "slow.pdf", "application/pdf", buf.Bytes(), MaxTextBytes, time.Millisecond)
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrCorrupt || !strings.Contains(e.Reason, "longer than") {
		t.Fatalf("error %v, want corrupt: took longer than the budget", err)
	}
	text, err := extract(ctx, "slow.pdf", "application/pdf", buf.Bytes(), MaxTextBytes, time.Minute)
	if err != nil || strings.Count(text, "slow page") != 2000 {
		t.Fatalf("with time enough: %d pages of text, %v", strings.Count(text, "slow page")/10, err)
	}
	if _, err := extract(ctx, "slow.pdf", "application/pdf", buf.Bytes(), 1000, time.Minute); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("PDF over the text limit: %v", err)
	}
}
