package store

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ConversationQuery selects, orders and pages a user's conversations (the
// predecessor's list parameters). Empty filters match every conversation.
type ConversationQuery struct {
	Status          string   // active | archived | deleted
	Provider, Model string   // of the last finished run
	Tags            []string // a conversation matches when it has every one
	EnableRetrieval *bool
	SortBy          string // one of ConversationSorts; empty is updated_at
	Asc             bool   // ascending; the default is descending
	Page            PageRequest
}

// ConversationSorts are the fields a conversation list can be sorted by.
var ConversationSorts = []string{"updated_at", "created_at", "last_message_at", "title", "message_count",
	"total_tokens", "total_cost"}

// ConversationList is one page of a query and the number of conversations that
// match it (at most MaxCounted).
type ConversationList struct {
	Items []Conversation
	Total int
	Next  string
}

// Check validates the query. Returns invalid naming the parameter.
func (q ConversationQuery) Check() error {
	if q.SortBy != "" && !slices.Contains(ConversationSorts, q.SortBy) {
		return Invalid("sort_by must be one of %s", strings.Join(ConversationSorts, ", "))
	}
	if q.Status != "" && !slices.Contains(ConversationStatuses, q.Status) {
		return Invalid("status must be one of %s", strings.Join(ConversationStatuses, ", "))
	}
	if q.Page.Offset < 0 || q.Page.Offset > MaxOffset {
		return Invalid("offset must be from 0 to %d", MaxOffset)
	}
	return nil
}

func (q ConversationQuery) match(c *Conversation) bool {
	if q.Status != "" && c.StatusOrActive() != q.Status || q.Provider != "" && c.Provider != q.Provider ||
		q.Model != "" && c.Model != q.Model || q.EnableRetrieval != nil && c.Settings.EnableRetrieval != *q.EnableRetrieval {
		return false
	}
	for _, t := range q.Tags {
		if !slices.Contains(c.Settings.Tags, t) {
			return false
		}
	}
	return true
}

// sortKey orders conversations by the query's field as bytes, the id breaking ties,
// so a cursor can hold a position.
func (q ConversationQuery) sortKey(c *Conversation) string {
	var k string
	switch q.SortBy {
	case "created_at":
		k = TimeKey(c.CreatedAt)
	case "last_message_at":
		k = TimeKey(c.LastMessageAt)
	case "title":
		k = c.Title
	case "message_count":
		k = fmt.Sprintf("%020d", c.MessageCount)
	case "total_tokens":
		k = fmt.Sprintf("%020d", c.TotalTokens)
	case "total_cost":
		k = fmt.Sprintf("%030.12f", c.TotalCost) // never negative
	default:
		k = TimeKey(c.UpdatedAt)
	}
	return k + "\x00" + c.ID
}

// scope binds a cursor to the user and to everything that decides the order and
// the selection.
func (q ConversationQuery) scope(userID string) string {
	return scope(ScopeConversations(userID), "query", q.Status, q.Provider, q.Model, strings.Join(q.Tags, "\x1e"),
		fmt.Sprint(q.EnableRetrieval != nil && *q.EnableRetrieval, q.EnableRetrieval == nil), q.SortBy,
		strconv.FormatBool(q.Asc))
}

// SelectConversations answers q from all of a user's conversations (the
// MaxCounted most recent): filter, order, then the page after the cursor and the
// offset. Both stores call it, so their lists cannot differ. Returns invalid for a
// cursor not issued for this user and query.
func SelectConversations(c *Cursors, userID string, all []Conversation, q ConversationQuery) (ConversationList, error) {
	if err := q.Check(); err != nil {
		return ConversationList{}, err
	}
	after := ""
	if q.Page.Cursor != "" {
		pos, err := c.Open(q.scope(userID), q.Page.Cursor)
		if err != nil {
			return ConversationList{}, err
		}
		after = pos["k"]
	}
	type keyed struct {
		k string
		c *Conversation
	}
	var sel []keyed
	for i := range all {
		if q.match(&all[i]) {
			sel = append(sel, keyed{q.sortKey(&all[i]), &all[i]})
		}
	}
	slices.SortFunc(sel, func(a, b keyed) int {
		if q.Asc {
			return cmp.Compare(a.k, b.k)
		}
		return cmp.Compare(b.k, a.k)
	})
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(sel, after, func(e keyed, t string) int {
			if q.Asc {
				return cmp.Compare(e.k, t)
			}
			return cmp.Compare(t, e.k)
		})
		if start < len(sel) && sel[start].k == after {
			start++
		}
	}
	start = min(start+q.Page.Offset, len(sel))
	end := min(start+q.Page.Size(), len(sel))
	out := ConversationList{Items: make([]Conversation, 0, end-start), Total: len(sel)}
	for _, e := range sel[start:end] {
		out.Items = append(out.Items, *e.c)
	}
	if end < len(sel) {
		out.Next = c.Seal(q.scope(userID), map[string]string{"k": sel[end-1].k})
	}
	return out, nil
}
