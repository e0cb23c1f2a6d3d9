package localpg

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

func TestStartReplicatedStreams(t *testing.T) {
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r, err := StartReplicated(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	primary, err := sql.Open("postgres", r.Primary.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	replica, err := sql.Open("postgres", r.Replica.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()

	var inRecovery bool
	if err := replica.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("replica in recovery = %v, %v; want true", inRecovery, err)
	}
	if _, err := primary.ExecContext(ctx, `CREATE TABLE marker (v text); INSERT INTO marker VALUES ('streamed')`); err != nil {
		t.Fatal(err)
	}
	// Replay is asynchronous: wait for the row to arrive (bounded by ctx).
	for {
		var v string
		err := replica.QueryRowContext(ctx, `SELECT v FROM marker`).Scan(&v)
		if err == nil && v == "streamed" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("row never reached the replica: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := replica.ExecContext(ctx, `INSERT INTO marker VALUES ('x')`); err == nil {
		t.Fatal("the replica accepted a write")
	}
	if err := r.Replica.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := replica.PingContext(ctx); err == nil {
		t.Fatal("replica still answers after StopServer")
	}
	if err := r.Replica.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := replica.PingContext(ctx); err != nil {
		t.Fatalf("replica after restart: %v", err)
	}
}
