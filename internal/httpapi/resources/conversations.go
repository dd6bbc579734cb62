package resources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/fromstore"

	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/wire"
)

// The conversation routes answer in the predecessor's shapes (see package wire).
// What they take and what they do with it:
//
//   - List (GET /conversations/, and without the slash): status, llm_provider and
//     llm_model (of the last finished run), tags (every one), enable_retrieval,
//     sort_by (updated_at, created_at, last_message_at, title, message_count,
//     total_tokens, total_cost), sort_order, limit (default 50, at most 100 a
//     page: the answer's limit says what was applied) and offset are honoured;
//     chatter adds cursor and next_cursor. It sorts and counts the 10,000
//     conversations with the most recent messages.
//   - Create and update take the old ConversationCreate and ConversationUpdate
//     fields (title, description, profile_id, system_prompt, enable_retrieval,
//     temperature 0..2, max_tokens >= 1, workflow_config, extra_metadata; status on
//     update) plus tags; every field may be sent to either. They are stored and
//     returned; a run takes its configuration from its own request, not from the
//     conversation. An update changes the fields it names; null clears one (a null
//     title or status leaves it as it is). Title and settings together are at most
//     64 KiB encoded (413 too_large).
//   - Get includes (include_messages, default true) the newest 50 messages, oldest
//     first; has_more_messages says whether older ones exist (page them with
//     /messages).
//   - Messages are a bare JSON array (the old shape), paged by limit (default 50)
//     and offset; X-Total-Count and a Link rel="next" (by cursor) describe the page.
//   - Delete answers 200 with {"message"}; deleting a message and rating one are
//     described in the store package comment.

// conversationLimit is the old default page size of conversations and messages.
const conversationLimit = 50

// ConversationList is the predecessor's ConversationListResponse plus chatter's
// cursor.
type ConversationList struct {
	Conversations []wire.Conversation `json:"conversations"`
	TotalCount    int                 `json:"total_count"`
	Limit         int                 `json:"limit"`
	Offset        int                 `json:"offset"`
	NextCursor    string              `json:"next_cursor,omitempty"`
}

// ListConversations lists the caller's conversations (see the notes above).
func ListConversations(s Conversations) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		p, err := offsetPage(r, conversationLimit, "status", "llm_provider", "llm_model", "tags", "enable_retrieval",
			"sort_by", "sort_order")
		if err != nil {
			return err
		}
		q := r.URL.Query()
		cq := store.ConversationQuery{Status: q.Get("status"), Provider: q.Get("llm_provider"), Model: q.Get("llm_model"),
			Tags: q["tags"], SortBy: q.Get("sort_by"), Page: p}
		if cq.EnableRetrieval, err = boolParam(q, "enable_retrieval"); err != nil {
			return err
		}
		if err := oneOf("status", cq.Status, store.ConversationStatuses); err != nil {
			return err
		}
		if err := oneOf("sort_by", cq.SortBy, store.ConversationSorts); err != nil {
			return err
		}
		if err := oneOf("sort_order", q.Get("sort_order"), []string{"asc", "desc"}); err != nil {
			return err
		}
		cq.Asc = q.Get("sort_order") == "asc"
		l, err := s.QueryConversations(r.Context(), uid, cq)
		if err != nil {
			return listErr(err, p)
		}
		out := ConversationList{Conversations: make([]wire.Conversation, len(l.Items)), TotalCount: l.Total,
			Limit: p.Size(), Offset: p.Offset, NextCursor: l.Next}
		for i := range l.Items {
			out.Conversations[i] = fromstore.Conversation(&l.Items[i])
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}

// conversationFields is the body of a conversation create or update: the old
// ConversationCreate and ConversationUpdate fields, and tags.
type conversationFields struct {
	Title           *string        `json:"title"`
	Description     *string        `json:"description"`
	ProfileID       *string        `json:"profile_id"`
	SystemPrompt    *string        `json:"system_prompt"`
	EnableRetrieval *bool          `json:"enable_retrieval"`
	Temperature     *float64       `json:"temperature"`
	MaxTokens       *int           `json:"max_tokens"`
	WorkflowConfig  map[string]any `json:"workflow_config"`
	ExtraMetadata   map[string]any `json:"extra_metadata"`
	Tags            []string       `json:"tags"`
	Status          *string        `json:"status"`
}

// decodeFields decodes the body into f and reports which fields were sent as null.
func decodeFields(r *http.Request, f *conversationFields) (nulls map[string]bool, err error) {
	if r.Body == nil {
		return nil, httpcore.Decode(r, f)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err // over the body limit: too_large
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	if len(b) == 0 {
		r2.Body = http.NoBody
	}
	if err := httpcore.Decode(r2, f); err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(b, &raw) // Decode accepted it: an object
	nulls = map[string]bool{}
	for k, v := range raw {
		if string(bytes.TrimSpace(v)) == "null" {
			nulls[k] = true
		}
	}
	return nulls, nil
}

// check validates the ranges the old schema gives.
func (f *conversationFields) check() error {
	if f.Temperature != nil && !(*f.Temperature >= 0 && *f.Temperature <= 2) {
		return httpcore.FieldErr(errcode.InvalidInput, "temperature", "temperature must be from 0 to 2")
	}
	if f.MaxTokens != nil && *f.MaxTokens < 1 {
		return httpcore.FieldErr(errcode.InvalidInput, "max_tokens", "max_tokens must be at least 1")
	}
	if f.Status != nil {
		if err := oneOf("status", *f.Status, store.ConversationStatuses); err != nil {
			return err
		}
	}
	return nil
}

// apply sets on c the fields f names, clearing those sent as null.
func (f *conversationFields) apply(c *store.Conversation, nulls map[string]bool) {
	st := &c.Settings
	if f.Title != nil {
		c.Title = *f.Title
	}
	if f.Status != nil {
		c.Status = *f.Status
	}
	setStr := func(dst *string, v *string, name string) {
		if v != nil || nulls[name] {
			*dst = ""
			if v != nil {
				*dst = *v
			}
		}
	}
	setStr(&st.Description, f.Description, "description")
	setStr(&st.ProfileID, f.ProfileID, "profile_id")
	if f.SystemPrompt != nil || nulls["system_prompt"] {
		st.SystemPrompt = f.SystemPrompt
	}
	if f.EnableRetrieval != nil || nulls["enable_retrieval"] {
		st.EnableRetrieval = f.EnableRetrieval != nil && *f.EnableRetrieval
	}
	if f.Temperature != nil || nulls["temperature"] {
		st.Temperature = f.Temperature
	}
	if f.MaxTokens != nil || nulls["max_tokens"] {
		st.MaxTokens = f.MaxTokens
	}
	if f.WorkflowConfig != nil || nulls["workflow_config"] {
		st.WorkflowConfig = f.WorkflowConfig
	}
	if f.ExtraMetadata != nil || nulls["extra_metadata"] {
		st.ExtraMetadata = f.ExtraMetadata
	}
	if f.Tags != nil || nulls["tags"] {
		st.Tags = f.Tags
	}
}

// createdConversation is the answer of a create: the conversation, and its id
// under conversation_id too, so a kept Idempotency-Key answer goes with it.
type createdConversation struct {
	wire.Conversation
	ConversationID string `json:"conversation_id"`
}

// CreateConversation creates a conversation without messages: 201.
func CreateConversation(s Conversations, newID func() string) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		var f conversationFields
		nulls, err := decodeFields(r, &f)
		if err != nil {
			return err
		}
		if f.Title == nil {
			return httpcore.FieldErr(errcode.InvalidInput, "title", "title is required")
		}
		if err := f.check(); err != nil {
			return err
		}
		c := &store.Conversation{ID: newID(), UserID: uid, Status: store.ConvActive}
		f.apply(c, nulls)
		if err := s.CreateConversation(r.Context(), c); err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusCreated, createdConversation{fromstore.Conversation(c), c.ID})
		return nil
	})
}

// UpdateConversation changes what the body names (see the notes above): 200 with
// the conversation.
func UpdateConversation(s Conversations) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		var f conversationFields
		nulls, err := decodeFields(r, &f)
		if err != nil {
			return err
		}
		if err := f.check(); err != nil {
			return err
		}
		c, err := s.UpdateConversation(r.Context(), uid, id, func(c *store.Conversation) error {
			f.apply(c, nulls)
			return nil
		})
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, fromstore.Conversation(c))
		return nil
	})
}

// conversationWindow is how many of the newest messages a conversation read
// includes.
const conversationWindow = 50

// conversationWithMessages is the old ConversationWithMessages plus whether older
// messages were left out.
type conversationWithMessages struct {
	wire.ConversationWithMessages
	HasMoreMessages bool `json:"has_more_messages"`
}

// GetConversation returns one of the caller's conversations with its newest
// messages (?include_messages, default true).
func GetConversation(s Conversations) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		if err := onlyQuery(r, "include_messages"); err != nil {
			return err
		}
		include, err := boolParam(r.URL.Query(), "include_messages")
		if err != nil {
			return err
		}
		window := conversationWindow
		if include != nil && !*include {
			window = 0
		}
		c, msgs, err := s.LoadConversation(r.Context(), uid, id, window)
		if err != nil {
			return err
		}
		out := conversationWithMessages{ConversationWithMessages: wire.ConversationWithMessages{
			Conversation: fromstore.Conversation(c), Messages: fromstore.Messages(msgs)},
			HasMoreMessages: window > 0 && len(msgs) < c.MessageCount}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}

// ConversationMessages lists a conversation's messages, oldest (seq 1) first, as a
// bare array (see the notes above).
func ConversationMessages(s Conversations) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		p, err := offsetPage(r, conversationLimit)
		if err != nil {
			return err
		}
		c, err := s.GetConversation(r.Context(), uid, id)
		if err != nil {
			return err
		}
		pg, err := s.ListMessages(r.Context(), uid, id, p)
		if err != nil {
			return listErr(err, p)
		}
		setPageHeaders(w, r, c.MessageCount, p, pg.Next)
		httpcore.WriteJSON(w, r, http.StatusOK, fromstore.Messages(pg.Items))
		return nil
	})
}

// Done is the predecessor's answer of a delete or an update that returns no
// record: a message, and the ids of what it concerned.
type Done struct {
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id,omitempty"`
	MessageID      string `json:"message_id,omitempty"`
}

// DeleteConversation deletes one of the caller's conversations and all its
// messages (and redacts its executions): 200.
func DeleteConversation(s Conversations) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if err := s.DeleteConversation(r.Context(), uid, id); err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, Done{Message: "Conversation deleted successfully", ConversationID: id})
		return nil
	})
}

// messageIDs reads {id} and {message_id} and refuses any query parameter.
func messageIDs(r *http.Request) (conv, msg string, err error) {
	if conv, err = pathID(r); err != nil {
		return "", "", err
	}
	if msg, err = pathParam(r, "message_id"); err != nil {
		return "", "", err
	}
	return conv, msg, onlyQuery(r)
}

// DeleteMessage deletes one message of a conversation: 200.
func DeleteMessage(s Conversations) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		conv, msg, err := messageIDs(r)
		if err != nil {
			return err
		}
		if err := s.DeleteMessage(r.Context(), uid, conv, msg); err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, Done{Message: "Message deleted successfully", ConversationID: conv, MessageID: msg})
		return nil
	})
}

// Rated is the predecessor's MessageRatingResponse plus the ids.
type Rated struct {
	Done
	Rating      float64 `json:"rating"`
	RatingCount int     `json:"rating_count"`
}

// RateMessage stores the caller's rating (0 to 5) of a message: 200.
func RateMessage(s Conversations) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		conv, msg, err := messageIDs(r)
		if err != nil {
			return err
		}
		var body struct {
			Rating *float64 `json:"rating"`
		}
		if err := httpcore.Decode(r, &body); err != nil {
			return err
		}
		if body.Rating == nil {
			return httpcore.FieldErr(errcode.InvalidInput, "rating", "rating is required")
		}
		if store.CheckRating(*body.Rating) != nil {
			return httpcore.FieldErr(errcode.InvalidInput, "rating",
				fmt.Sprintf("rating must be from %g to %g", store.MinRating, store.MaxRating))
		}
		m, err := s.RateMessage(r.Context(), uid, conv, msg, *body.Rating)
		if err != nil {
			return err
		}
		httpcore.WriteJSON(w, r, http.StatusOK, Rated{Done: Done{Message: "Message rating updated successfully",
			ConversationID: conv, MessageID: msg}, Rating: *m.Rating, RatingCount: m.RatingCount})
		return nil
	})
}
