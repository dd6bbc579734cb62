package devstack

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chatterhq/chatter/internal/httpapi/jwtauth"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// The dev stack's token issuer and audience. Deployed stages verify their
// identity provider's tokens instead; these never leave a developer's machine.
const (
	Issuer   = "chatter-dev"
	Audience = "chatter"
	// TokenTTL is how long a dev token stays valid.
	TokenTTL = 30 * 24 * time.Hour
	keyFile  = "dev-key.json"
	// keyID names the dev signing key in tokens' kid header.
	keyID = "chatter-dev-1"
)

// Identity is the dev stack's signing key and cursor key, kept in a dev folder so
// that restarts of `chatter dev` and `chatter token` share them: a token printed
// yesterday still works, and so does a list cursor across a restart.
type Identity struct {
	// Dir is the dev folder the keys live in.
	Dir       string
	Key       jwk.Key
	CursorKey []byte
}

// identityFile is the dev folder's key file.
type identityFile struct {
	Key       json.RawMessage `json:"signing_key"`
	CursorKey string          `json:"cursor_key"`
}

// LoadIdentity reads the keys from dir, creating dir (0700) and the keys (0600) on
// first use. Two processes starting at once agree on one key: the file is created
// exclusively and the loser reads the winner's.
func LoadIdentity(dir string) (*Identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devstack: creating dev folder %s: %w", dir, err)
	}
	path := filepath.Join(dir, keyFile)
	id, err := readIdentity(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := createIdentity(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return readIdentity(path)
}

func readIdentity(path string) (*Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devstack: reading dev key: %w", err)
	}
	var f identityFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("devstack: dev key %s is corrupt (delete it to make a new one): %w", path, err)
	}
	k, err := jwk.ParseKey(f.Key)
	if err != nil {
		return nil, fmt.Errorf("devstack: dev key %s is corrupt (delete it to make a new one): %w", path, err)
	}
	ck, err := hex.DecodeString(f.CursorKey)
	if err != nil || len(ck) < 16 {
		return nil, fmt.Errorf("devstack: dev key %s has no valid cursor key (delete it to make a new one)", path)
	}
	return &Identity{Dir: filepath.Dir(path), Key: k, CursorKey: ck}, nil
}

func createIdentity(path string) error {
	k, err := jwtauth.NewSigningKey(keyID)
	if err != nil {
		return err
	}
	kb, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("devstack: encoding dev key: %w", err)
	}
	ck := make([]byte, 32)
	_, _ = rand.Read(ck) // crypto/rand.Read never fails
	b, err := json.MarshalIndent(identityFile{Key: kb, CursorKey: hex.EncodeToString(ck)}, "", "  ")
	if err != nil {
		return fmt.Errorf("devstack: encoding dev key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-key-*")
	if err != nil {
		return fmt.Errorf("devstack: writing dev key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("devstack: writing dev key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("devstack: writing dev key: %w", err)
	}
	// A hard link fails if the file exists, so a complete key appears atomically
	// and never replaces another process's.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("devstack: writing dev key: %w", err)
	}
	return nil
}

// Token mints a dev token for user.
func (id *Identity) Token(user string) (string, error) {
	if strings.TrimSpace(user) == "" {
		return "", errors.New("devstack: a user name is required")
	}
	return jwtauth.MintToken(id.Key, Issuer, Audience, user, TokenTTL)
}

// Authenticator verifies the tokens Token mints.
func (id *Identity) Authenticator() (*jwtauth.StaticKeys, error) {
	set := jwk.NewSet()
	if err := set.AddKey(id.Key); err != nil {
		return nil, fmt.Errorf("devstack: dev key set: %w", err)
	}
	return jwtauth.NewStaticKeys(jwtauth.StaticKeysConfig{Keys: set, Issuer: Issuer, Audience: Audience})
}

// DefaultDir is where the dev folder lives: $CHATTER_DEV_DIR if set; else .dev in
// the chatter checkout that contains wd (found by its go.mod); else
// $XDG_STATE_HOME/chatter (~/.local/state/chatter).
func DefaultDir(getenv func(string) string, wd string) string {
	if d := getenv("CHATTER_DEV_DIR"); d != "" {
		return d
	}
	for dir := wd; dir != ""; {
		if isChatterModule(filepath.Join(dir, "go.mod")) {
			return filepath.Join(dir, ".dev")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if s := getenv("XDG_STATE_HOME"); s != "" {
		return filepath.Join(s, "chatter")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "chatter")
	}
	return filepath.Join(os.TempDir(), "chatter-dev")
}

// modulePath is chatter's module, as its go.mod declares it.
const modulePath = "github.com/chatterhq/chatter"

func isChatterModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}
