package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDev_SecondStackOnSameFolderIsRefusedBeforeStarting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	holder := exec.Command("sleep", "30") // stands in for the running chatter dev
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	pid := strconv.Itoa(holder.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "dev.lock"), []byte(pid+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := dev(ctx, []string{"--port", "0", "--dev-dir", dir}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, &stderr)
	}
	msg := stderr.String()
	for _, want := range []string{"another chatter dev (pid " + pid + ")", dir, "--dev-dir"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "moto.log")); err == nil {
		t.Errorf("the refused stack opened moto.log")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dev.lock")); strings.TrimSpace(string(b)) != pid {
		t.Errorf("the refused stack touched the holder's lock: %q", b)
	}
}

func TestOpenLog_AppendsAcrossRestartsAndConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var a, b stack
	defer a.Close()
	defer b.Close()
	wa, err := a.openLog(dir, "events.log")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(wa, "first run line")
	wb, err := b.openLog(dir, "events.log") // a restart: must not truncate
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(wb, "second run line")
	fmt.Fprintln(wa, "first run later line") // lands at the end, not over the second
	got, err := os.ReadFile(filepath.Join(dir, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := "first run line\nsecond run line\nfirst run later line\n"
	if string(got) != want {
		t.Fatalf("events.log = %q, want %q", got, want)
	}
}
