package resources

import (
	"context"
	"net/http"

	"github.com/chatterhq/chatter/internal/httpapi"
	"github.com/chatterhq/chatter/internal/store"
)

// ListConversations lists the caller's conversations, most recent message first.
func ListConversations(s Conversations) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, uid string) error {
		p, err := page(r)
		if err != nil {
			return err
		}
		pg, err := s.ListConversations(r.Context(), uid, p)
		if err != nil {
			return listErr(err, p)
		}
		httpapi.WritePage(w, r, pg)
		return nil
	})
}

// GetConversation returns one of the caller's conversations.
func GetConversation(s Conversations) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		c, err := s.GetConversation(r.Context(), uid, id)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, c)
		return nil
	})
}

// ConversationMessages lists a conversation's messages, oldest (seq 1) first.
func ConversationMessages(s Conversations) http.Handler {
	return handleList(func(ctx context.Context, uid, id string, p store.PageRequest) (store.Page[store.Message], error) {
		return s.ListMessages(ctx, uid, id, p) // not a method value: s may be nil until a request comes (Routes lists handlers)
	}, httpapi.WritePage[store.Message])
}

// DeleteConversation deletes one of the caller's conversations and all its
// messages: 204.
func DeleteConversation(s Conversations) http.Handler {
	return handleID(func(w http.ResponseWriter, r *http.Request, uid, id string) error {
		if err := s.DeleteConversation(r.Context(), uid, id); err != nil {
			return err
		}
		noContent(w)
		return nil
	})
}
