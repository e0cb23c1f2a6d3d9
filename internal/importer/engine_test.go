package importer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/importer"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// TestRunConnectionsKeepLineOrder loads pairs of lines with the same
// userPrincipalName (in another case) in batches of one on several
// connections: the first line of each pair must load and the second be
// rejected, as in a sequential load, however the batches overlap.
func TestRunConnectionsKeepLineOrder(t *testing.T) {
	const pairs = 40
	hash, err := bcrypt.GenerateFromPassword([]byte("Pair-Passw0rd!"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range pairs {
		for j, upn := range []string{"Pair." + strconv.Itoa(i) + "@contoso.com", "PAIR." + strconv.Itoa(i) + "@CONTOSO.com"} {
			lines = append(lines, fmt.Sprintf(`{"accountEnabled":true,"displayName":"P%d-%d","mailNickname":"p%d","userPrincipalName":%q,"passwordProfile":{"passwordHash":%q}}`,
				i, j, i, upn, hash))
		}
	}
	ctx := context.Background()
	store := pgtest.NewStore(t)
	tenant, err := store.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DisplayName: "Import",
		DefaultDomain: "contoso.com", Domains: []string{"contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	var errOut, summary bytes.Buffer
	st, err := importer.Run(ctx, strings.NewReader(strings.Join(lines, "\n")+"\n"), store, importer.Options{
		Prepare: importer.NewPreparer(tenant).Prepare, TenantID: tenant.ID,
		Batch: 1, Workers: 2, Loaders: 4, Reporter: importer.NewReporter(&errOut, nil, -1)})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	st.Write(&summary, 2)
	if st.Loaded != pairs || st.Rejected != pairs || !strings.Contains(summary.String(), "users loaded:   "+strconv.Itoa(pairs)+"\n") {
		t.Errorf("stats %+v, summary:\n%s", st, summary.String())
	}
	for i := range pairs {
		first, second := fmt.Sprintf("line %d: ", 2*i+1), fmt.Sprintf("line %d: property userPrincipalName: ", 2*i+2)
		if strings.Contains(errOut.String(), first) || !strings.Contains(errOut.String(), second) {
			t.Errorf("pair %d: want line %d loaded and line %d rejected; stderr:\n%s", i, 2*i+1, 2*i+2, errOut.String())
			break
		}
	}
}

// TestRunReadsLines feeds the reader what files meet: a byte-order mark,
// blank lines, CRLF endings, a line over the 1 MiB limit, invalid JSON and
// a last line without a newline. Line numbers count every line, the long
// line is rejected without stopping the load, and the counts add up.
func TestRunReadsLines(t *testing.T) {
	ctx := context.Background()
	store := pgtest.NewStore(t)
	tenant, err := store.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DisplayName: "Lines",
		DefaultDomain: "contoso.com", Domains: []string{"contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	user := func(name string) string {
		return `{"identities":[{"signInType":"federated","issuer":"facebook.com","issuerAssignedId":"` + name + `"}]}`
	}
	in := "\uFEFF" + user("bom") + "\n" + // 1
		"\n" + // 2
		"   \t\n" + // 3
		user("crlf") + "\r\n" + // 4
		`{"displayName":"` + strings.Repeat("x", 1<<20) + `"}` + "\n" + // 5
		`{"displayName": ` + "\n" + // 6
		user("last") // 7, no newline
	var errOut bytes.Buffer
	st, err := importer.Run(ctx, strings.NewReader(in), store, importer.Options{
		Prepare: importer.NewPreparer(tenant).Prepare, TenantID: tenant.ID,
		Batch: 2, Workers: 2, Loaders: 2, Reporter: importer.NewReporter(&errOut, nil, -1)})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	if st.Lines != 7 || st.Blank != 2 || st.Loaded != 3 || st.Rejected != 2 {
		t.Errorf("stats %+v, want 7 lines, 2 blank, 3 loaded, 2 rejected\n%s", st, errOut.String())
	}
	want := "line 5: The line is longer than 1048576 bytes.\nline 6: "
	if !strings.HasPrefix(errOut.String(), want) || strings.Count(errOut.String(), "\n") != 2 {
		t.Errorf("rejects:\n%s\nwant them to start %q", errOut.String(), want)
	}
	var n int
	if err := store.DB().QueryRow(`SELECT count(*) FROM user_identities WHERE tenant_id = $1 AND issuer = 'facebook.com'
		AND issuer_assigned_id IN ('bom', 'crlf', 'last')`, tenant.ID).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d of the 3 users stored (%v)", n, err)
	}

	// An ended context stops the load with its cause.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := importer.Run(cctx, strings.NewReader(user("late")+"\n"), store, importer.Options{
		Prepare: importer.NewPreparer(tenant).Prepare, TenantID: tenant.ID, Batch: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled import: %v, want context.Canceled", err)
	}
}
