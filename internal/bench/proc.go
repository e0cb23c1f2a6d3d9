package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// CPU of other processes, from Linux's /proc: what `make bench` reads to
// charge PostgreSQL's server processes with the CPU they spend on the
// bench's load (benchdb.PGCPU picks the processes).

// userHZ is the unit of the times in /proc/<pid>/stat: USER_HZ, which
// the kernel fixes at 100 for that interface on every architecture Go
// runs PostgreSQL on (it is not the kernel's internal HZ).
const userHZ = 100

// ErrNoProc is returned where /proc has no such process (it exited, or
// this is not Linux).
var ErrNoProc = errors.New("bench: no such process in /proc")

// ProcStat is what /proc/<pid>/stat says of one process.
type ProcStat struct {
	Comm string // the executable's name, as the kernel keeps it
	PPID int
	// CPU is the process's own user + system time; Children that of
	// its children that exited and were waited for (cutime + cstime).
	CPU, Children time.Duration
	// Start is the process's start, in clock ticks since boot.
	Start int64
}

// ReadProcStat parses /proc/<pid>/stat.
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		// ESRCH: the process exited between open and read.
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return ProcStat{}, fmt.Errorf("%w: %d", ErrNoProc, pid)
		}
		return ProcStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses one /proc/<pid>/stat line: "pid (comm) state ppid
// ...". comm may hold spaces and parentheses, so the fields start after
// the last ')'.
func parseProcStat(b []byte) (ProcStat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return ProcStat{}, fmt.Errorf("bench: malformed /proc stat %.60q", b)
	}
	f := bytes.Fields(b[end+1:])
	// f[0] is field 3 (state) of proc(5): ppid is field 4, utime..cstime
	// fields 14..17, starttime field 22.
	if len(f) < 20 {
		return ProcStat{}, fmt.Errorf("bench: short /proc stat %.60q", b)
	}
	var n [5]int64
	for i, idx := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(string(f[idx]), 10, 64)
		if err != nil {
			return ProcStat{}, fmt.Errorf("bench: /proc stat field %d: %w", idx+3, err)
		}
		n[i] = v
	}
	start, err := strconv.ParseInt(string(f[19]), 10, 64)
	if err != nil {
		return ProcStat{}, fmt.Errorf("bench: /proc stat starttime: %w", err)
	}
	tick := time.Second / userHZ
	return ProcStat{
		Comm: string(b[open+1 : end]), PPID: int(n[0]),
		CPU: time.Duration(n[1]+n[2]) * tick, Children: time.Duration(n[3]+n[4]) * tick,
		Start: start,
	}, nil
}

// ProcCPU is the CPU time a single-threaded process (a PostgreSQL
// backend, the postmaster) has used so far. It reads the scheduler's
// nanosecond count (/proc/<pid>/schedstat, its first field) where the
// kernel keeps it: /proc/<pid>/stat counts in 10 ms ticks, too coarse to
// sum over a few dozen backends in a five-second window. schedstat is
// the main thread's alone, hence single-threaded processes only.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "schedstat"))
	if err == nil {
		if f := bytes.Fields(b); len(f) > 0 {
			if ns, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
				return time.Duration(ns), nil
			}
		}
	}
	st, err := ReadProcStat(pid)
	if err != nil {
		return 0, err
	}
	return st.CPU, nil
}

// TreeCPU is the CPU time used so far by process pid, its live children
// and its children that have exited and been reaped. For a PostgreSQL
// postmaster, which forks every backend and worker and reaps them, that
// is everything the server has done: the difference of two readings is
// the server's CPU in between, however many backends came and went (a
// child that exits between the readings moves from the live sum into
// the postmaster's cutime with its whole CPU, its earlier part counted
// once). Grandchildren do not occur under a postmaster.
func TreeCPU(pid int) (time.Duration, error) {
	root, err := ReadProcStat(pid)
	if err != nil {
		return 0, err
	}
	self, err := ProcCPU(pid)
	if err != nil {
		return 0, err
	}
	total := self + root.Children
	for _, c := range children(pid) {
		cpu, err := ProcCPU(c)
		if err != nil {
			// Exited since the listing: its CPU is in root.Children of
			// the next reading, not of this one; it is missed only if it
			// was also alive at the previous reading.
			continue
		}
		total += cpu
	}
	return total, nil
}

// children lists the live processes whose parent is pid.
func children(pid int) []int {
	// /proc/<pid>/task/<pid>/children needs CONFIG_PROC_CHILDREN; the
	// parent field of every process is always there.
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		st, err := ReadProcStat(p)
		if err == nil && st.PPID == pid {
			out = append(out, p)
		}
	}
	return out
}

// BootTime is when the machine booted, from /proc/stat's btime: with a
// ProcStat's Start it dates a process.
func BootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			s, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return time.Time{}, err
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, errors.New("bench: no btime in /proc/stat")
}

// StartTime is when process pid started (to the tick).
func StartTime(pid int) (time.Time, error) {
	st, err := ReadProcStat(pid)
	if err != nil {
		return time.Time{}, err
	}
	boot, err := BootTime()
	if err != nil {
		return time.Time{}, err
	}
	return boot.Add(time.Duration(st.Start) * (time.Second / userHZ)), nil
}
