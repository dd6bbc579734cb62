package extract

import (
	"context"
	"regexp"
	"strings"
)

var (
	mdFence      = regexp.MustCompile("^\\s*(```|~~~)")
	mdHeading    = regexp.MustCompile(`^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	mdRule       = regexp.MustCompile(`^\s{0,3}([-*_=])(\s*([-*_=]))+\s*$`) // ---, ***, ===, - - -
	mdQuote      = regexp.MustCompile(`^\s{0,3}(>\s?)+`)
	mdList       = regexp.MustCompile(`^\s*([-*+]|\d{1,9}[.)])\s+(\[[ xX]\]\s+)?`)
	mdLinkDef    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+\S+`)
	mdTableSep   = regexp.MustCompile(`^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$`)
	mdImage      = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLink       = regexp.MustCompile(`\[([^\]]+)\](\([^)]*\)|\[[^\]]*\])`)
	mdAutolink   = regexp.MustCompile(`<((?:https?|mailto):[^>\s]+)>`)
	mdTag        = regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>`)
	mdStrong     = regexp.MustCompile(`(\*\*|__)(\S(?:.*?\S)?)(\*\*|__)`)
	mdEmphasis   = regexp.MustCompile(`(^|[^\w*])[*_](\S(?:[^*_]*?\S)?)[*_]($|[^\w*])`)
	mdStrike     = regexp.MustCompile(`~~(\S(?:.*?\S)?)~~`)
	mdInlineCode = regexp.MustCompile("`+([^`]+)`+")
)

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
		if mdFence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if !inFence {
			if mdTableSep.MatchString(line) || mdLinkDef.MatchString(line) {
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
	case mdRule.MatchString(line):
		return ""
	}
	if m := mdHeading.FindStringSubmatch(line); m != nil {
		line = m[1]
	}
	line = mdQuote.ReplaceAllString(line, "")
	line = mdList.ReplaceAllString(line, "")
	if strings.Contains(line, "|") && strings.Count(line, "|") >= 2 {
		line = strings.Trim(strings.TrimSpace(line), "|")
		line = strings.ReplaceAll(line, "|", " ")
	}
	line = mdImage.ReplaceAllString(line, "$1")
	line = mdLink.ReplaceAllString(line, "$1")
	line = mdAutolink.ReplaceAllString(line, "$1")
	line = mdTag.ReplaceAllString(line, "")
	line = mdInlineCode.ReplaceAllString(line, "$1")
	line = mdStrong.ReplaceAllString(line, "$2")
	line = mdStrike.ReplaceAllString(line, "$1")
	// Twice: a match takes the character after it, which may open the next one.
	line = mdEmphasis.ReplaceAllString(line, "$1$2$3")
	line = mdEmphasis.ReplaceAllString(line, "$1$2$3")
	return line
}
