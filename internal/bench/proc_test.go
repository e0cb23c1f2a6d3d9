package bench

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// A comm with spaces and parentheses does not shift the fields after it.
func TestParseProcStat(t *testing.T) {
	line := "4242 (post gres) (x)) S 17 4242 4242 0 -1 4194560 531 0 0 0 250 75 1000 30 20 0 1 0 987654 176513024 1822 18446744073709551615 1 1 0 0 0 0 0 16781312 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStat{Comm: "post gres) (x)", PPID: 17, CPU: 3250 * time.Millisecond, Children: 10300 * time.Millisecond, Start: 987654}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "12 noparen S 1", "12 (x) S 1 2 3"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// A single-threaded process's nanosecond reading agrees with its tick
// reading and grows by the CPU it burns: a shell that counts, then
// waits on its stdin so that it can be read while it lives.
func TestProcCPU_SingleThreaded(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command(sh, "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo done; read x`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	// The event: it has counted and now blocks on read.
	buf := make([]byte, 5)
	if _, err := io.ReadFull(stdout, buf); err != nil {
		t.Fatal(err)
	}
	ns, err := ProcCPU(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadProcStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getpid() || st.Comm != "sh" && st.Comm != "dash" && st.Comm != "bash" {
		t.Errorf("stat of the shell: %+v", st)
	}
	if ns < 50*time.Millisecond {
		t.Fatalf("the shell counted in %s of CPU: too little to compare", ns)
	}
	// Ticks truncate to 10 ms (and the kernel scales them by a little).
	if d := ns - st.CPU; d > 30*time.Millisecond || d < -30*time.Millisecond {
		t.Errorf("schedstat %s against stat %s", ns, st.CPU)
	}
}

// A child that ran and was reaped is in its parent's tree: the postmaster
// case, where a backend exits within the measured window.
func TestTreeCPU_CountsReapedChildren(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	before, err := TreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	after, err := TreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if child < 50*time.Millisecond {
		t.Fatalf("the child used only %s: nothing to see", child)
	}
	// cutime is in 10 ms ticks.
	if got := after - before; got < child-20*time.Millisecond {
		t.Errorf("tree grew by %s, the reaped child alone used %s", got, child)
	}
}

func TestProcCPU_Gone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	if _, err := ProcCPU(cmd.Process.Pid); !errors.Is(err, ErrNoProc) {
		t.Errorf("a reaped process: %v, want ErrNoProc", err)
	}
}

func TestStartTime_Self(t *testing.T) {
	st, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// The test binary started moments ago (btime is to the second).
	if age := time.Since(st); age < -2*time.Second || age > 10*time.Minute {
		t.Errorf("this process started %s ago", age)
	}
}
