package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// Stats are the counts of one import.
type Stats struct {
	Lines, Blank, Loaded, Rejected, Hashed int64
	Elapsed                                time.Duration
}

// Write prints the summary of an import that ran on workers workers.
func (s Stats) Write(w io.Writer, workers int) {
	secs := s.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	fmt.Fprintf(w, "lines read:     %s (%s blank)\n", Group(s.Lines), Group(s.Blank))
	fmt.Fprintf(w, "users loaded:   %s\n", Group(s.Loaded))
	fmt.Fprintf(w, "rejected:       %s\n", Group(s.Rejected))
	fmt.Fprintf(w, "elapsed:        %s\n", s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "rate:           %s users/s\n", Group(int64(float64(s.Loaded)/secs)))
	if s.Hashed > 0 {
		fmt.Fprintf(w, "hashed:         %s plain passwords with argon2id, %.1f/s on %d workers\n",
			Group(s.Hashed), float64(s.Hashed)/secs, workers)
	}
}

// Group formats n with thousands separators.
func Group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Reporter counts, prints rejects and draws the progress display.
type Reporter struct {
	lines, blank, loaded, rejected, hashed, nread atomic.Int64

	mu      sync.Mutex
	stderr  io.Writer
	rejects io.Writer // JSON Lines, or nil
	tty     bool
	size    int64 // input size, -1 when unknown
	begun   time.Time
	drawn   bool // a progress bar is on the terminal's current line
	stop    chan struct{}
	done    chan struct{}
}

// NewReporter returns a Reporter that writes rejects and progress to
// stderr (a bar when it is a terminal), rejects also to rejects as JSON
// Lines when it is not nil; size is the input's size in bytes for the bar,
// -1 when unknown.
func NewReporter(stderr, rejects io.Writer, size int64) *Reporter {
	r := &Reporter{stderr: stderr, rejects: rejects, size: size}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			r.tty = true
		}
	}
	return r
}

// start begins the periodic progress display: about five times a second on
// a terminal, every five seconds otherwise.
func (r *Reporter) start(t time.Time) {
	r.begun = t
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	every := 5 * time.Second
	if r.tty {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-tick.C:
				r.progress()
			}
		}
	}()
}

// finish stops the display and clears the bar.
func (r *Reporter) finish() {
	if r.stop == nil {
		return
	}
	close(r.stop)
	<-r.done
	r.stop = nil
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drawn {
		fmt.Fprint(r.stderr, "\r\033[K")
		r.drawn = false
	}
}

func (r *Reporter) stats() Stats {
	return Stats{Lines: r.lines.Load(), Blank: r.blank.Load(), Loaded: r.loaded.Load(),
		Rejected: r.rejected.Load(), Hashed: r.hashed.Load()}
}

func (r *Reporter) progress() {
	st := r.stats()
	secs := time.Since(r.begun).Seconds()
	rate := int64(float64(st.Loaded) / secs)
	counts := fmt.Sprintf("%s read  %s loaded  %s rejected  %s users/s",
		Group(st.Lines), Group(st.Loaded), Group(st.Rejected), Group(rate))
	if st.Hashed > 0 {
		counts += fmt.Sprintf("  %.0f hashes/s", float64(st.Hashed)/secs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.tty {
		fmt.Fprintln(r.stderr, "import: "+counts)
		return
	}
	bar := ""
	if r.size > 0 {
		const width = 24
		frac := float64(r.nread.Load()) / float64(r.size)
		frac = min(max(frac, 0), 1)
		n := int(frac * width)
		bar = fmt.Sprintf("[%s%s] %3.0f%%  ", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100)
	}
	fmt.Fprint(r.stderr, "\r\033[K"+bar+counts)
	r.drawn = true
}

// reject reports rejected lines on stderr and in the reject file.
func (r *Reporter) reject(rs ...directory.ImportReject) {
	if len(rs) == 0 {
		return
	}
	r.rejected.Add(int64(len(rs)))
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	if r.drawn {
		b.WriteString("\r\033[K")
		r.drawn = false
	}
	for _, x := range rs {
		b.WriteString(x.String())
		b.WriteByte('\n')
	}
	r.stderr.Write(b.Bytes()) //nolint:errcheck // nowhere better to report it
	if r.rejects != nil {
		enc := json.NewEncoder(r.rejects)
		enc.SetEscapeHTML(false)
		for _, x := range rs {
			enc.Encode(x) //nolint:errcheck // checked at flush
		}
	}
}
