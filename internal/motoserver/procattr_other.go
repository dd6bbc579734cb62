//go:build !linux

package motoserver

import (
	"syscall"
)

// dieWithParent has no portable equivalent of Linux's parent-death signal; Stop
// (on Ctrl-C and SIGTERM) is what ends the server there.
func dieWithParent() *syscall.SysProcAttr { return nil }
