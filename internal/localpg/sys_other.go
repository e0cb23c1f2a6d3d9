//go:build !unix

package localpg

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// errUnsupported keeps non-Unix builds compiling while telling the user the
// way out: the private instance relies on flock, setuid and unix sockets.
var errUnsupported = errors.New("a private PostgreSQL needs a Unix-like OS; set DATABASE_URL or GRAPHDIR_TEST_DATABASE_URL to an existing server")

func lockFile(context.Context, string) (func(), error) { return nil, errUnsupported }

func processState(int) procState { return procGone }

func procAttr(*account) *syscall.SysProcAttr { return nil }

func fileOwner(os.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }
