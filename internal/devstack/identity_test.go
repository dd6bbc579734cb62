package devstack_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chatterhq/chatter/internal/devstack"
)

func authenticate(t *testing.T, id *devstack.Identity, token string) (string, error) {
	t.Helper()
	a, err := id.Authenticator()
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return a.Authenticate(r)
}

func TestLoadIdentity_RestartsShareTheKeyAndTheFileIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", ".dev")
	first, err := devstack.LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := first.Token("alice")
	if err != nil {
		t.Fatal(err)
	}
	again, err := devstack.LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := authenticate(t, again, tok); err != nil || sub != "alice" {
		t.Fatalf("token from the first load on the second: sub %q, err %v", sub, err)
	}
	if string(first.CursorKey) != string(again.CursorKey) || len(first.CursorKey) != 32 {
		t.Errorf("cursor key not kept: %x vs %x", first.CursorKey, again.CursorKey)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "dev-key.json"): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s mode %v, want at most %v", path, got, want)
		}
	}
}

func TestLoadIdentity_ConcurrentFirstUseAgreesOnOneKey(t *testing.T) {
	dir := t.TempDir()
	ids := make([]*devstack.Identity, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := devstack.LoadIdentity(dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = id
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	tok, err := ids[0].Token("bob")
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if _, err := authenticate(t, id, tok); err != nil {
			t.Errorf("loader %d has another key: %v", i, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".dev-key-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestIdentity_ForeignAndEmptyTokensAreRefused(t *testing.T) {
	a, err := devstack.LoadIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := devstack.LoadIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := b.Token("mallory")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(t, a, tok); err == nil {
		t.Error("a token signed by another dev folder's key was accepted")
	}
	if _, err := a.Token("  "); err == nil {
		t.Error("a token for an empty user name was minted")
	}
}

func TestLoadIdentity_CorruptKeyFileSaysHowToRecover(t *testing.T) {
	for name, content := range map[string]string{
		"not json":        "{",
		"bad key":         `{"signing_key": {"kty": "nope"}, "cursor_key": "00112233445566778899aabbccddeeff"}`,
		"bad cursor key":  `{"signing_key": ` + mustKeyJSON(t) + `, "cursor_key": "zz"}`,
		"short cursorkey": `{"signing_key": ` + mustKeyJSON(t) + `, "cursor_key": "0011"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "dev-key.json"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := devstack.LoadIdentity(dir)
			if err == nil || !strings.Contains(err.Error(), "delete it") {
				t.Fatalf("err = %v, want one that says to delete the file", err)
			}
		})
	}
}

func mustKeyJSON(t *testing.T) string {
	t.Helper()
	id, err := devstack.LoadIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(id.Dir, "dev-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(b), "{\n    ")
	end := strings.Index(string(b), "},\n")
	if start < 0 || end < 0 {
		t.Fatalf("unexpected key file layout: %s", b)
	}
	return string(b[start : end+1])
}

func TestLoadIdentity_UnwritableFolderIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := devstack.LoadIdentity(filepath.Join(file, "sub"))
	if err == nil || !strings.Contains(err.Error(), "dev folder") {
		t.Fatalf("err = %v, want a dev folder error", err)
	}
}

func TestDefaultDir_PicksEnvThenCheckoutThenStateHome(t *testing.T) {
	checkout := t.TempDir()
	if err := os.WriteFile(filepath.Join(checkout, "go.mod"), []byte("module github.com/chatterhq/chatter\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(checkout, "cmd", "chatter")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		wd   string
		want string
	}{
		{"explicit folder wins", map[string]string{"CHATTER_DEV_DIR": "/x/dev", "HOME": "/home/u"}, sub, "/x/dev"},
		{"checkout root from a subfolder", map[string]string{"HOME": "/home/u"}, sub, filepath.Join(checkout, ".dev")},
		{"another module uses the state home", map[string]string{"XDG_STATE_HOME": "/state", "HOME": "/home/u"}, other, "/state/chatter"},
		{"no state home uses HOME", map[string]string{"HOME": "/home/u"}, other, "/home/u/.local/state/chatter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := devstack.DefaultDir(func(k string) string { return tc.env[k] }, tc.wd)
			if got != tc.want {
				t.Errorf("DefaultDir = %q, want %q", got, tc.want)
			}
		})
	}
}
