package devstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile marks a dev folder as in use by one dev stack; it holds that stack's PID.
const lockFile = "dev.lock"

// ErrFolderInUse is returned by LockFolder when a live dev stack holds the folder.
var ErrFolderInUse = errors.New("dev folder in use")

// FolderLock is a dev folder claimed by this process. Two dev stacks writing the
// same events.log, metrics.log and moto.log interleave and corrupt them, so a
// folder serves one stack at a time.
type FolderLock struct{ path string }

// LockFolder claims dir (creating it, 0700) for this process. If another live
// process holds it, the error wraps ErrFolderInUse and names that PID, the folder
// and the way out; a lock left by a process that has ended is taken over.
func LockFolder(dir string) (*FolderLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devstack: creating dev folder %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFile)
	for range 3 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_, werr := f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				_ = os.Remove(path)
				return nil, fmt.Errorf("devstack: writing %s: %w", path, werr)
			}
			return &FolderLock{path: path}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("devstack: creating %s: %w", path, err)
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("devstack: reading %s: %w", path, err)
		}
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr == nil && pid > 0 && alive(pid) {
			return nil, fmt.Errorf("%w: another chatter dev (pid %d) is using %s; stop it, or give this one its own folder: --dev-dir DIR (or CHATTER_DEV_DIR)",
				ErrFolderInUse, pid, dir)
		}
		// A stale lock (its process ended, or the file is half-written garbage).
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("devstack: removing stale %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("devstack: could not claim %s", path)
}

// alive says whether a process with this PID exists (signal 0 checks without
// sending anything; EPERM means it exists but belongs to someone else).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Unlock releases the folder if this process still holds it. Safe to call twice.
func (l *FolderLock) Unlock() error {
	if l == nil {
		return nil
	}
	b, err := os.ReadFile(l.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		return nil // taken over by another process; not ours to remove
	}
	return os.Remove(l.path)
}
