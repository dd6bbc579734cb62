package main

import (
	"fmt"
	"io"
	"slices"
)

// row is one line of the table both subcommands print: a figure, its anchor, the
// ratio of the two and the goal it is held to.
type row struct {
	what, chatter, anchor string
	// ratio is chatter/anchor; 0 when the goal is an absolute limit (no anchor).
	ratio float64
	goal  string
	met   bool
}

// ratioRow holds a ratio to at most max ("≤max x").
func ratioRow(what, chatter, anchor string, ratio, max float64, aim string) row {
	g := fmt.Sprintf("≤%gx", max)
	if aim != "" {
		g += " (aim " + aim + ")"
	}
	return row{what: what, chatter: chatter, anchor: anchor, ratio: ratio, goal: g, met: ratio <= max}
}

// limitRow holds a value to at most max of unit.
func limitRow(what string, value, max float64, unit string) row {
	return row{what: what, chatter: fmt.Sprintf("%.2f %s", value, unit), anchor: "-",
		goal: fmt.Sprintf("≤%g %s", max, unit), met: value <= max}
}

// printTable writes rows as a Markdown table, the form README.md's Performance
// section takes them in.
func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| what | chatter | anchor | ratio | goal | |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
	for _, r := range rows {
		ratio, met := "-", "not met"
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.2fx", r.ratio)
		}
		if r.met {
			met = "met"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.what, r.chatter, r.anchor, ratio, r.goal, met)
	}
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// medianRatio is the median of the per-round ratios num[i]/den[i]: each round's
// two figures were taken moments apart, so drift of the machine between rounds
// cancels within a ratio.
func medianRatio(num, den []float64) float64 {
	var r []float64
	for i := range min(len(num), len(den)) {
		if den[i] > 0 {
			r = append(r, num[i]/den[i])
		}
	}
	return median(r)
}
