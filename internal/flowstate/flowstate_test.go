package flowstate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// twoInstances opens two stores (two connection pools, as two graphdir
// processes would have) on one fresh database with one tenant.
func twoInstances(t *testing.T) (a, b *postgres.Store, tenant string) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.NewURL(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b = open(), open()
	tenant = uuid.NewString()
	if _, err := a.EnsureTenant(ctx, directory.Tenant{ID: tenant, DefaultDomain: "flows.test"}); err != nil {
		t.Fatal(err)
	}
	return a, b, tenant
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestFlowStartedOnOneInstanceAdvancesOnTheOther(t *testing.T) {
	ctx := context.Background()
	sa, sb, tenant := twoInstances(t)
	a, b := flowstate.New(sa), flowstate.New(sb)

	h1, fl, err := a.Start(ctx, directory.SignInFlow{TenantID: tenant, ClientID: "app-1", Kind: "signin", Step: "initiated",
		Username: "jane@example.test", Data: map[string]string{"locale": "fr"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "gdf1.") || fl.ID == "" || fl.Version != 1 {
		t.Fatalf("start: handle %q flow %+v", h1, fl)
	}

	got, err := b.Resume(ctx, tenant, "app-1", h1, "signin")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != fl.ID || got.Username != "jane@example.test" || got.Data["locale"] != "fr" || got.Step != "initiated" {
		t.Fatalf("resumed on b: %+v", got)
	}

	user := uuid.NewString()
	got.Step, got.UserID, got.AMR = "password_verified", user, []string{"pwd"}
	h2, advanced, err := b.Advance(ctx, h1, got)
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h1 || advanced.Version != 2 {
		t.Fatalf("advance: new handle %q version %d", h2, advanced.Version)
	}
	if _, err := a.Resume(ctx, tenant, "app-1", h1); !errors.Is(err, flowstate.ErrInvalid) {
		t.Fatalf("old handle after a successful step: %v, want ErrInvalid", err)
	}
	back, err := a.Resume(ctx, tenant, "app-1", h2, "signin")
	if err != nil {
		t.Fatal(err)
	}
	if back.UserID != user || back.Step != "password_verified" || len(back.AMR) != 1 || back.AMR[0] != "pwd" || back.Version != 2 {
		t.Fatalf("resumed on a after b advanced: %+v", back)
	}
	if err := a.Finish(ctx, tenant, h2); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(ctx, tenant, h2); !errors.Is(err, flowstate.ErrInvalid) {
		t.Fatalf("finish twice: %v, want ErrInvalid", err)
	}
	if _, err := b.Resume(ctx, tenant, "app-1", h2); !errors.Is(err, flowstate.ErrInvalid) {
		t.Fatalf("resume after finish: %v, want ErrInvalid", err)
	}
}

func TestHandleIsBoundToTenantClientAndKind(t *testing.T) {
	ctx := context.Background()
	sa, _, tenant := twoInstances(t)
	other := uuid.NewString()
	if _, err := sa.EnsureTenant(ctx, directory.Tenant{ID: other, DefaultDomain: "other.test"}); err != nil {
		t.Fatal(err)
	}
	f := flowstate.New(sa)
	h, _, err := f.Start(ctx, directory.SignInFlow{TenantID: tenant, ClientID: "app-1", Kind: "signup", Step: "started"})
	if err != nil {
		t.Fatal(err)
	}
	for name, try := range map[string]func() error{
		"other tenant": func() error { _, err := f.Resume(ctx, other, "app-1", h); return err },
		"other client": func() error { _, err := f.Resume(ctx, tenant, "app-2", h); return err },
		"other kind":   func() error { _, err := f.Resume(ctx, tenant, "app-1", h, "signin", "reset"); return err },
		"truncated":    func() error { _, err := f.Resume(ctx, tenant, "app-1", h[:len(h)-1]); return err },
		"not base64":   func() error { _, err := f.Resume(ctx, tenant, "app-1", "gdf1."+strings.Repeat("*", 43)); return err },
		"no prefix":    func() error { _, err := f.Resume(ctx, tenant, "app-1", strings.TrimPrefix(h, "gdf1.")); return err },
		"bad tenant":   func() error { _, err := f.Resume(ctx, "'; DROP TABLE signin_flows; --", "app-1", h); return err },
		"empty":        func() error { _, err := f.Resume(ctx, tenant, "app-1", ""); return err },
	} {
		if err := try(); !errors.Is(err, flowstate.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := f.Resume(ctx, strings.ToUpper(tenant), "app-1", h, "signup"); err != nil {
		t.Errorf("the right tenant (any case), client and kind: %v", err)
	}
}

func TestFailedStepKeepsHandleAndExpiryEndsIt(t *testing.T) {
	ctx := context.Background()
	sa, _, tenant := twoInstances(t)
	c := &clock{t: time.Now()}
	f := flowstate.New(sa, flowstate.WithClock(c.now), flowstate.WithLifetime(10*time.Minute))
	h, _, err := f.Start(ctx, directory.SignInFlow{TenantID: tenant, ClientID: "app", Kind: "reset", Step: "code_sent"})
	if err != nil {
		t.Fatal(err)
	}
	// A wrong code is a failed step: the caller does not Advance, and the
	// same handle is presented again.
	for range 3 {
		if _, err := f.Resume(ctx, tenant, "app", h, "reset"); err != nil {
			t.Fatalf("retry with the same handle: %v", err)
		}
	}
	c.add(10*time.Minute + time.Second)
	if _, err := f.Resume(ctx, tenant, "app", h, "reset"); !errors.Is(err, flowstate.ErrExpired) {
		t.Fatalf("after the lifetime: %v, want ErrExpired", err)
	}
	// Pruning waits one more lifetime, so a late client still hears "expired".
	if n, err := f.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("prune just after expiry: %d, %v", n, err)
	}
	c.add(10 * time.Minute)
	if n, err := f.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("prune a lifetime after expiry: %d, %v", n, err)
	}
	if _, err := f.Resume(ctx, tenant, "app", h); !errors.Is(err, flowstate.ErrInvalid) {
		t.Fatalf("after prune: %v, want ErrInvalid", err)
	}
}

// Two instances presenting the same handle at once: exactly one advances the
// flow, so a code or password step cannot be redeemed twice.
func TestConcurrentAdvanceHasOneWinner(t *testing.T) {
	ctx := context.Background()
	sa, sb, tenant := twoInstances(t)
	instances := []*flowstate.Flows{flowstate.New(sa), flowstate.New(sb)}
	h, _, err := instances[0].Start(ctx, directory.SignInFlow{TenantID: tenant, ClientID: "app", Kind: "signin", Step: "code_sent"})
	if err != nil {
		t.Fatal(err)
	}
	const racers = 8
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		wins, conflicts int
	)
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func(f *flowstate.Flows) {
			defer wg.Done()
			<-start
			fl, err := f.Resume(ctx, tenant, "app", h)
			if err == nil {
				fl.Step = "verified"
				_, _, err = f.Advance(ctx, h, fl)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, flowstate.ErrInvalid):
				conflicts++
			default:
				t.Errorf("racer: %v", err)
			}
		}(instances[i%2])
	}
	close(start)
	wg.Wait()
	if wins != 1 || conflicts != racers-1 {
		t.Fatalf("wins %d, conflicts %d; want 1 and %d", wins, conflicts, racers-1)
	}
}
