package browsertest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChromiumByName: a GRAPHDIR_CHROMIUM that is not a program is a clear
// "unavailable" (skippable) error naming the variable, not a launch failure
// later and not an install of something else.
func TestChromiumByName(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "chrome")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(t.TempDir(), "missing"), notExec, t.TempDir()} {
		t.Setenv("GRAPHDIR_CHROMIUM", p)
		_, err := ensureChromium(context.Background(), t.Logf)
		if !errors.Is(err, errUnavailable) || !strings.Contains(err.Error(), "GRAPHDIR_CHROMIUM="+p) {
			t.Errorf("GRAPHDIR_CHROMIUM=%s: %v", p, err)
		}
	}
	if err := os.Chmod(notExec, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GRAPHDIR_CHROMIUM", notExec)
	if got, err := ensureChromium(context.Background(), t.Logf); err != nil || got != notExec {
		t.Errorf("an executable GRAPHDIR_CHROMIUM: %q, %v", got, err)
	}
}
