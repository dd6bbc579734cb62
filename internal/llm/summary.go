package llm

import (
	"strings"
)

// The conversation-summary request is owned here, in one place, because two sides
// read it: the executor builds it (SummaryRequest) and providers that must tell it
// from a chat turn (devllm) take it apart (SummaryParts).

// SummaryInstruction begins the system prompt of every summary request; a
// provider recognises a summary request by it.
const SummaryInstruction = "You keep the running summary of a conversation."

const (
	summaryRules = " Fold the new messages into the summary so far and answer with the updated summary only:" +
		" plain sentences, third person, the facts, names, decisions, preferences and open questions a later" +
		" reply needs; no preamble."
	summarySoFar = "\n\nSummary so far:\n"
	summaryNone  = "(none)"
)

// SummaryRequest is the model call that folds messages into a running summary:
// the system prompt holds SummaryInstruction, the rules and the previous summary
// (after "Summary so far:"); one user message holds the messages, one a line,
// "role: content", with line breaks in the content turned into spaces (so the
// request is valid for every provider: one user turn). Callers bound what they
// pass; nothing is cut here.
func SummaryRequest(model, previous string, msgs []Message, maxTokens int) *Request {
	if previous == "" {
		previous = summaryNone
	}
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(string(m.Role))
		b.WriteString(": ")
		b.WriteString(oneLine(m.Content))
	}
	return &Request{Model: model, System: SummaryInstruction + summaryRules + summarySoFar + previous,
		Messages: []Message{{Role: RoleUser, Content: b.String()}}, MaxTokens: maxTokens}
}

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

func oneLine(s string) string { return lineBreaks.Replace(s) }

// SummaryParts takes apart a request SummaryRequest built: the previous summary
// ("" when there was none) and the messages, their content on one line. ok is
// false for any other request.
func SummaryParts(req *Request) (previous string, msgs []Message, ok bool) {
	if req == nil || !strings.HasPrefix(req.System, SummaryInstruction) || len(req.Messages) != 1 {
		return "", nil, false
	}
	_, previous, ok = strings.Cut(req.System, summarySoFar)
	if !ok {
		return "", nil, false
	}
	if previous == summaryNone {
		previous = ""
	}
	for line := range strings.SplitSeq(req.Messages[0].Content, "\n") {
		role, content, found := strings.Cut(line, ": ")
		if !found {
			continue
		}
		msgs = append(msgs, Message{Role: Role(role), Content: content})
	}
	return previous, msgs, true
}
