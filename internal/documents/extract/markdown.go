package extract

import (
	"context"
	"regexp"
	"strings"
	"sync"
)

// md compiles the Markdown patterns on the first document that needs them, not at
// init: every function that links document search (the chat functions too) would
// otherwise compile them at each cold start.
var md = sync.OnceValue(func() *mdPatterns {
	return &mdPatterns{
		fence:      regexp.MustCompile("^\\s*(```|~~~)"),
		heading:    regexp.MustCompile(`^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$`),
		rule:       regexp.MustCompile(`^\s{0,3}([-*_=])(\s*([-*_=]))+\s*$`), // ---, ***, ===, - - -
		quote:      regexp.MustCompile(`^\s{0,3}(>\s?)+`),
		list:       regexp.MustCompile(`^\s*([-*+]|\d{1,9}[.)])\s+(\[[ xX]\]\s+)?`),
		linkDef:    regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+\S+`),
		tableSep:   regexp.MustCompile(`^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$`),
		image:      regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`),
		link:       regexp.MustCompile(`\[([^\]]+)\](\([^)]*\)|\[[^\]]*\])`),
		autolink:   regexp.MustCompile(`<((?:https?|mailto):[^>\s]+)>`),
		tag:        regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>`),
		strong:     regexp.MustCompile(`(\*\*|__)(\S(?:.*?\S)?)(\*\*|__)`),
		emphasis:   regexp.MustCompile(`(^|[^\w*])[*_](\S(?:[^*_]*?\S)?)[*_]($|[^\w*])`),
		strike:     regexp.MustCompile(`~~(\S(?:.*?\S)?)~~`),
		inlineCode: regexp.MustCompile("`+([^`]+)`+"),
	}
})

type mdPatterns struct {
	fence, heading, rule, quote, list, linkDef, tableSep, image, link, autolink, tag, strong, emphasis, strike, inlineCode *regexp.Regexp
}

// markdownText keeps the text of a Markdown document and drops its markup.
func markdownText(ctx context.Context, src string, out *limited) error {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	i := 0
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "---" { // YAML front matter
		for j := 1; j < len(lines); j++ {
			if t := strings.TrimSpace(lines[j]); t == "---" || t == "..." {
				i = j + 1
				break
			}
		}
	}
	inFence := false
	for n, line := range lines[i:] {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if md().fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if !inFence {
			if md().tableSep.MatchString(line) || md().linkDef.MatchString(line) {
				continue // no line at all: a blank one would split a table or a paragraph
			}
			line = markdownLine(line)
		}
		if err := out.WriteString(line + "\n"); err != nil {
			return err
		}
	}
	return nil
}

func markdownLine(line string) string {
	switch {
	case md().rule.MatchString(line):
		return ""
	}
	if m := md().heading.FindStringSubmatch(line); m != nil {
		line = m[1]
	}
	line = md().quote.ReplaceAllString(line, "")
	line = md().list.ReplaceAllString(line, "")
	if strings.Contains(line, "|") && strings.Count(line, "|") >= 2 {
		line = strings.Trim(strings.TrimSpace(line), "|")
		line = strings.ReplaceAll(line, "|", " ")
	}
	line = md().image.ReplaceAllString(line, "$1")
	line = md().link.ReplaceAllString(line, "$1")
	line = md().autolink.ReplaceAllString(line, "$1")
	line = md().tag.ReplaceAllString(line, "")
	line = md().inlineCode.ReplaceAllString(line, "$1")
	line = md().strong.ReplaceAllString(line, "$2")
	line = md().strike.ReplaceAllString(line, "$1")
	// Twice: a match takes the character after it, which may open the next one.
	line = md().emphasis.ReplaceAllString(line, "$1$2$3")
	line = md().emphasis.ReplaceAllString(line, "$1$2$3")
	return line
}
