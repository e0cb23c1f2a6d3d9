package importer_test

import (
	"bytes"
	"context"
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
