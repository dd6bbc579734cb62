package store_test

import (
	"testing"

	"github.com/chatterhq/chatter/internal/store"
	"github.com/chatterhq/chatter/internal/store/storetest"
)

func TestMemory_RepositorySuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) storetest.Repo {
		m := store.NewMemory()
		m.Now = c.Now
		return m
	})
}
