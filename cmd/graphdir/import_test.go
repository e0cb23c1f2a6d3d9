package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/graphdir/graphdir/internal/importer"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// cheapArgon2 keeps test hashes fast; Verify reads the parameters from the hash.
var cheapArgon2 = password.Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// importFixture is generated input: the JSON lines and, by line, the
// object each line holds and the password its hash verifies.
type importFixture struct {
	lines     [][]byte
	objects   []map[string]any
	passwords []string
}

// genImportUsers returns n users in the shapes an import meets: workforce
// users with every kind of property, customers with email and userName
// identities, federated-only customers, nulls, unicode. Passwords are
// pre-hashed, alternating bcrypt and argon2id, from a small pool of hashes
// (hashing n passwords would take far longer than importing them).
func genImportUsers(t testing.TB, n int, prefix string) *importFixture {
	t.Helper()
	type hashed struct{ pw, hash string }
	var pool []hashed
	for i := range 4 {
		pw := fmt.Sprintf("Pässw0rd-%d!", i)
		var h string
		if i%2 == 0 {
			b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			h = string(b)
		} else {
			var err error
			if h, err = password.HashWith(pw, cheapArgon2); err != nil {
				t.Fatal(err)
			}
		}
		pool = append(pool, hashed{pw, h})
	}
	f := &importFixture{}
	for i := range n {
		p := pool[i%len(pool)]
		id := prefix + strconv.Itoa(i)
		var u map[string]any
		switch i % 4 {
		case 0, 1: // workforce
			u = map[string]any{
				"accountEnabled":    i%7 != 0,
				"displayName":       "Ädele Vançe " + id + " ✓",
				"mailNickname":      "u" + id,
				"userPrincipalName": "User." + id + "@contoso.com",
				"givenName":         "Ädele",
				"surname":           "Vançe-" + id,
				"jobTitle":          nil,
				"mail":              "user." + id + "@contoso.com",
				"otherMails":        []any{"alt." + id + "@example.com", "zweit." + id + "@example.org"},
				"businessPhones":    []any{"+41 44 668 18 00"},
				"mobilePhone":       "+41 79 555 01 " + strconv.Itoa(i%100),
				"city":              "Zürich",
				"country":           "Schweiz",
				"usageLocation":     "CH",
				"preferredLanguage": "de-CH",
				"employeeId":        strconv.Itoa(100000 + i),
				"department":        "Fòrschung & Entwicklung",
				"companyName":       "Contoso 株式会社",
				"passwordProfile":   map[string]any{"passwordHash": p.hash, "forceChangePasswordNextSignIn": i%3 == 0},
			}
			if i%2 == 1 {
				u["@odata.type"] = "#microsoft.graph.user"
				u["userType"] = "Guest"
				u["identities"] = []any{map[string]any{"signInType": "userName", "issuer": "graphdir.test", "issuerAssignedId": "wf-" + id}}
				delete(u, "otherMails")
				u["streetAddress"] = "Bahnhofstrasse 1\tPostfach 42"
			}
		case 2: // customer with an email identity
			u = map[string]any{
				"displayName": "客户 " + id,
				"identities": []any{map[string]any{
					"signInType": "emailAddress", "issuer": "graphdir.test", "issuerAssignedId": "Kunde." + id + "@example.com"}},
				"mail":             "kunde." + id + "@example.com",
				"passwordProfile":  map[string]any{"passwordHash": p.hash, "forceChangePasswordNextSignIn": false},
				"passwordPolicies": "DisablePasswordExpiration",
				"ageGroup":         "Adult",
				"postalCode":       nil,
			}
		case 3: // federated-only customer: no password, no display name needed
			u = map[string]any{
				"identities": []any{map[string]any{
					"signInType": "federated", "issuer": "facebook.com", "issuerAssignedId": "FB-" + id}},
				"givenName": "Ωmega \"quoted\" \\ back",
			}
			p = hashed{}
		}
		b, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		f.lines = append(f.lines, b)
		f.objects = append(f.objects, u)
		f.passwords = append(f.passwords, p.pw)
	}
	return f
}

func writeLines(t testing.TB, lines [][]byte) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(name, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// runImportCmd runs `graphdir import args...` against the database at url.
func runImportCmd(t testing.TB, url string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := map[string]string{"DATABASE_URL": url, "GRAPHDIR_PUBLIC_URL": testPublicURL, "GRAPHDIR_DOMAINS": "graphdir.test,contoso.com"}
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"import"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestImportRate loads GRAPHDIR_IMPORT_USERS users (default 3,000) with
// pre-hashed passwords and prints the rate. It asserts correctness of the
// counts only, never timing:
//
//	GRAPHDIR_IMPORT_USERS=200000 go test ./cmd/graphdir -run ImportRate -v -count=1
//
// Next to it, the ceiling: a raw COPY of the same rows into a fresh copy of
// the same schema, same batches and connections.
//
// GRAPHDIR_IMPORT_PLAIN=1 sends plain passwords instead (the argon2id
// hashing rate), GRAPHDIR_IMPORT_BATCH sets --batch,
// GRAPHDIR_IMPORT_FLAGS adds flags (e.g. "--connections 1", "--bulk"), and
// GRAPHDIR_IMPORT_WITHOUT_QUERY_INDEXES=1 drops the query-only indexes of
// users first, to measure the loader apart from their maintenance.
func TestImportRate(t *testing.T) {
	n := 3000
	if v := os.Getenv("GRAPHDIR_IMPORT_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	batch := os.Getenv("GRAPHDIR_IMPORT_BATCH")
	if batch == "" {
		batch = "5000"
	}
	f := genImportUsers(t, n, "r")
	if os.Getenv("GRAPHDIR_IMPORT_PLAIN") != "" {
		// Plain passwords instead of hashes: the argon2id rate.
		for i, u := range f.objects {
			if pp, ok := u["passwordProfile"].(map[string]any); ok {
				delete(pp, "passwordHash")
				pp["password"] = f.passwords[i]
				f.lines[i], _ = json.Marshal(u)
			}
		}
	}
	file := writeLines(t, f.lines)
	url := pgtest.NewURL(t)
	if os.Getenv("GRAPHDIR_IMPORT_WITHOUT_QUERY_INDEXES") != "" {
		dropQueryIndexes(t, url)
	}
	begin := time.Now()
	out, errOut, err := runImportCmd(t, url, append(strings.Fields(os.Getenv("GRAPHDIR_IMPORT_FLAGS")), "--batch", batch, file)...)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	t.Logf("%d users, --batch %s, %s wall including connecting and migrating:\n%s", n, batch, time.Since(begin).Round(time.Millisecond), out)
	if !strings.Contains(out, "users loaded:   "+importer.Group(int64(n))+"\n") || strings.Contains(errOut, "line ") {
		t.Errorf("not every user loaded:\n%s\n%s", out, errOut)
	}

	// The ceiling: the same rows COPYed straight into the same schema (a
	// database of its own, as empty as the import's was).
	rawURL := pgtest.NewURL(t)
	if os.Getenv("GRAPHDIR_IMPORT_WITHOUT_QUERY_INDEXES") != "" {
		dropQueryIndexes(t, rawURL)
	}
	size, err := strconv.Atoi(batch)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": rawURL, "GRAPHDIR_PUBLIC_URL": testPublicURL, "GRAPHDIR_DOMAINS": "graphdir.test,contoso.com"}
	_, db, err := openCommandDatabase(context.Background(), func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := parseImportRate(t, out)
	conns := 2 // the import's default --connections
	if m := regexp.MustCompile(`--connections[ =](\d+)`).FindStringSubmatch(os.Getenv("GRAPHDIR_IMPORT_FLAGS")); m != nil {
		conns, _ = strconv.Atoi(m[1])
	}
	if strings.Contains(os.Getenv("GRAPHDIR_IMPORT_FLAGS"), "--bulk") {
		conns = 1
	}
	rawN, rawElapsed, err := importer.RawCopyRate(context.Background(), db.store, db.tenant, f.lines, size, conns)
	if err != nil {
		t.Fatal(err)
	}
	if rawN != n {
		t.Fatalf("raw COPY loaded %d users, want %d", rawN, n)
	}
	raw := float64(rawN) / rawElapsed.Seconds()
	t.Logf("raw COPY of the same rows (same schema, --batch %s, %d connections): %d users in %s = %s users/s; graphdir import %s users/s = %.0f%% of raw",
		batch, conns, rawN, rawElapsed.Round(time.Millisecond), importer.Group(int64(raw)), importer.Group(int64(st)), 100*st/raw)
}

// TestImportBulk loads a fresh directory with --bulk: the same verdicts as
// a normal import, every index back afterwards, and a second --bulk
// refused because users is no longer empty.
func TestImportBulk(t *testing.T) {
	f := genImportUsers(t, 300, "b")
	lines := append(f.lines[:len(f.lines):len(f.lines)], f.lines[4], []byte(`{"displayName": 1}`))
	url := pgtest.NewURL(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	indexes := func() (defs string) {
		t.Helper()
		if err := db.QueryRow(`SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes
			WHERE tablename IN ('users', 'user_identities', 'user_attrs', 'user_search_tokens')`).Scan(&defs); err != nil {
			t.Fatal(err)
		}
		return defs
	}
	before := indexes()

	out, errOut, err := runImportCmd(t, url, "--bulk", "--batch", "100", writeLines(t, lines))
	if err != nil {
		t.Fatalf("import --bulk: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "users loaded:   300\n") || !strings.Contains(out, "rejected:       2\n") {
		t.Errorf("summary:\n%s\n%s", out, errOut)
	}
	if !strings.Contains(errOut, "line 301: property userPrincipalName: ") || !strings.Contains(errOut, "line 302: ") {
		t.Errorf("rejects:\n%s", errOut)
	}
	if after := indexes(); after != before {
		t.Errorf("indexes after --bulk:\n%s\nwant:\n%s", after, before)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil || n != 300 {
		t.Errorf("%d users, want 300 (%v)", n, err)
	}

	out, errOut, err = runImportCmd(t, url, "--bulk", writeLines(t, [][]byte{f.lines[0]}))
	if err == nil || !strings.Contains(err.Error(), "empty directory") {
		t.Errorf("second --bulk: err %v, want a refusal\n%s\n%s", err, out, errOut)
	}
	if after := indexes(); after != before {
		t.Errorf("indexes after a refused --bulk:\n%s\nwant:\n%s", after, before)
	}
}

// parseImportRate reads the users/s of an import summary.
func parseImportRate(t testing.TB, summary string) float64 {
	t.Helper()
	for _, l := range strings.Split(summary, "\n") {
		if v, ok := strings.CutPrefix(l, "rate:"); ok {
			v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimSpace(v), " users/s"), ",", "")
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("rate %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no rate in the summary:\n%s", summary)
	return 0
}

// dropQueryIndexes drops the indexes of users that serve queries only (not
// the primary key, not the unique ones, not the created_at paging index),
// to measure the loader without the cost of maintaining them.
func dropQueryIndexes(t testing.TB, url string) {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(`DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT i.indexrelid::regclass::text AS name FROM pg_index i
		WHERE i.indrelid = 'users'::regclass AND NOT i.indisunique
			AND i.indexrelid <> 'users_created_at_idx'::regclass
	LOOP
		EXECUTE 'DROP INDEX ' || r.name;
	END LOOP;
END $$`)
	if err != nil {
		t.Fatal(err)
	}
}

func countLines(s string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		n++
	}
	return n
}

// withoutProgress drops the importer's periodic progress lines from its
// stderr, leaving the rejects.
func withoutProgress(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if !progressLine.MatchString(line) {
			b.WriteString(line)
		}
	}
	return b.String()
}

var progressLine = regexp.MustCompile(`^import: \d+ read `)

// TestImportRoundTrip imports good and bad lines, then reads every user back
// through the API and compares it with its line property by property.
func TestImportRoundTrip(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	// Already in the directory: a workforce user and a customer.
	s.create(admin, workforceUser("Taken@contoso.com"))
	s.create(admin, customer("graphdir.test", "taken.customer@example.com"))

	f := genImportUsers(t, 48, "rt")
	// Plain passwords, hashed by the import (5 in all with the two bad lines
	// below that pass validation and fail on their identities; one weak one that
	// DisableStrongPassword allows).
	for i, pw := range []string{"Plain-Passw0rd!", "Zweites-Passw0rt?", "weak"} {
		u := map[string]any{
			"accountEnabled": true, "displayName": "Plain " + strconv.Itoa(i), "mailNickname": "plain" + strconv.Itoa(i),
			"userPrincipalName": "plain" + strconv.Itoa(i) + "@graphdir.test",
			"passwordProfile":   map[string]any{"password": pw, "forceChangePasswordNextSignInWithMfa": true},
		}
		if pw == "weak" {
			u["passwordPolicies"] = "DisableStrongPassword, DisablePasswordExpiration"
		}
		b, _ := json.Marshal(u)
		f.lines = append(f.lines, b)
		f.objects = append(f.objects, u)
		f.passwords = append(f.passwords, pw)
	}

	// The input: good lines with bad ones among them. want maps each bad
	// line to the property it must be rejected for and a piece of the reason.
	type bad struct{ prop, reason string }
	var lines [][]byte
	good := map[int]int{} // line -> index in f
	want := map[int]bad{}
	addGood := func(i int) { lines = append(lines, f.lines[i]); good[len(lines)] = i }
	addBad := func(line string, prop, reason string) {
		lines = append(lines, []byte(line))
		want[len(lines)] = bad{prop, reason}
	}
	js := func(v map[string]any) string { b, _ := json.Marshal(v); return string(b) }
	wf := func(upn string) map[string]any {
		return map[string]any{"accountEnabled": true, "displayName": "X", "mailNickname": "x", "userPrincipalName": upn,
			"passwordProfile": map[string]any{"passwordHash": gjson(f.objects[0], "passwordProfile", "passwordHash")}}
	}
	addGood(0)
	addGood(1)
	firstUPN := f.objects[0]["userPrincipalName"].(string)
	addBad(js(wf(strings.ToUpper(firstUPN))), "userPrincipalName", "Repeats line 1")
	addBad(`{"accountEnabled": true, "displayName": "broken"`, "", "Invalid JSON")
	lines = append(lines, []byte(""), []byte("   \t"))
	for i := 2; i < len(f.lines); i++ {
		addGood(i)
		switch i {
		case 5:
			addBad(`{"displayname": "case", "accountEnabled": true}`, "displayname", "did you mean 'displayName'")
		case 9:
			addBad(js(wf("TAKEN@contoso.com")), "userPrincipalName", "already has the userPrincipalName")
		case 13:
			// Two identities, the second one taken in another case: the
			// first must not be written either.
			addBad(js(map[string]any{"displayName": "Dup", "passwordProfile": map[string]any{"password": "Str0ng!Passw0rd"},
				"identities": []any{
					map[string]any{"signInType": "emailAddress", "issuer": "graphdir.test", "issuerAssignedId": "half.written@example.com"},
					map[string]any{"signInType": "emailAddress", "issuer": "GRAPHDIR.test", "issuerAssignedId": "Taken.Customer@Example.com"},
				}}), "identities", "already has the identity")
		case 17:
			u := wf("weakling@contoso.com")
			u["passwordProfile"] = map[string]any{"password": "password"}
			addBad(js(u), "passwordProfile.password", "complexity")
		case 21:
			u := wf("badhash@contoso.com")
			u["passwordProfile"] = map[string]any{"passwordHash": "$1$md5crypt$abcdefgh"}
			addBad(js(u), "passwordProfile.passwordHash", "is neither a bcrypt")
		case 25:
			addBad(js(wf("someone@fabrikam.com")), "userPrincipalName", "verified domain")
		case 29:
			u := wf("nonick@contoso.com")
			delete(u, "mailNickname")
			addBad(js(u), "mailNickname", "is required")
		case 33:
			u := wf("readonly@contoso.com")
			u["createdDateTime"] = "2020-01-01T00:00:00Z"
			addBad(js(u), "createdDateTime", "read-only")
		case 37:
			u := wf("both@contoso.com")
			u["passwordProfile"] = map[string]any{"password": "Str0ng!Passw0rd", "passwordHash": gjson(f.objects[0], "passwordProfile", "passwordHash")}
			addBad(js(u), "passwordProfile", "not both")
		case 41:
			// Repeats the email identity of generated user 2 (a customer) in another case.
			id := f.objects[2]["identities"].([]any)[0].(map[string]any)
			addBad(js(map[string]any{"displayName": "Again", "passwordProfile": map[string]any{"password": "Str0ng!Passw0rd"},
				"identities": []any{map[string]any{"signInType": "emailAddress", "issuer": "GraphDir.Test",
					"issuerAssignedId": strings.ToUpper(id["issuerAssignedId"].(string))}}}), "identities", "")
		}
	}
	// A repeat far from its original: in a later batch it is simply taken.
	addBad(js(wf(strings.ToLower(f.objects[1]["userPrincipalName"].(string)))), "userPrincipalName", "")
	file := writeLines(t, lines)
	rejectFile := filepath.Join(t.TempDir(), "rejects.jsonl")

	before := countAllUsers(t, s)
	out, errOut, err := runImportCmd(t, s.cfg.DatabaseURL, "--batch", "16", "--workers", "3", "--reject-file", rejectFile, file)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	t.Logf("summary:\n%s", out)
	for _, wantLine := range []string{
		"lines read:     " + strconv.Itoa(len(lines)) + " (2 blank)\n",
		"users loaded:   " + strconv.Itoa(len(good)) + "\n",
		"rejected:       " + strconv.Itoa(len(want)) + "\n",
		"hashed:         5 plain passwords",
	} {
		if !strings.Contains(out, wantLine) {
			t.Errorf("summary lacks %q:\n%s", wantLine, out)
		}
	}
	if got := countAllUsers(t, s); got != before+len(good) {
		t.Errorf("%d users in the database, want %d", got, before+len(good))
	}

	// Rejects: on stderr and in the reject file, one per bad line.
	raw, err := os.ReadFile(rejectFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, l := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var r struct {
			Line     int    `json:"line"`
			Property string `json:"property"`
			Reason   string `json:"reason"`
		}
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("reject file line %q: %v", l, err)
		}
		w, ok := want[r.Line]
		switch {
		case !ok:
			t.Errorf("line %d rejected, want it loaded: %s %s", r.Line, r.Property, r.Reason)
		case r.Property != w.prop || !strings.Contains(r.Reason, w.reason):
			t.Errorf("line %d rejected for %q: %q; want %q with %q", r.Line, r.Property, r.Reason, w.prop, w.reason)
		}
		if seen[r.Line] {
			t.Errorf("line %d rejected twice", r.Line)
		}
		seen[r.Line] = true
		text := fmt.Sprintf("line %d: ", r.Line)
		if r.Property != "" {
			text += "property " + r.Property + ": "
		}
		if !strings.Contains(errOut, text+r.Reason+"\n") {
			t.Errorf("stderr lacks %q", text+r.Reason)
		}
	}
	for line := range want {
		if !seen[line] {
			t.Errorf("line %d (%s) not rejected", line, want[line].prop)
		}
	}
	// A slow machine may also print the every-five-seconds progress line
	// ("import: 66 read ..."); only rejects are counted.
	if rejects := countLines(withoutProgress(errOut)); rejects != len(want) {
		t.Errorf("stderr has %d reject lines, want one per reject (%d):\n%s", rejects, len(want), errOut)
	}
	var half int
	if err := s.db.store.DB().QueryRow(`SELECT count(*) FROM user_identities WHERE issuer_assigned_id = 'half.written@example.com'`).Scan(&half); err != nil || half != 0 {
		t.Errorf("a rejected user's identity was written (%d, %v)", half, err)
	}

	// Read every user back through the API and compare.
	all := listAll(t, s, admin)
	byKey := map[string]map[string]any{}
	for _, u := range all {
		byKey[strings.ToLower(u["userPrincipalName"].(string))] = u
		for _, id := range u["identities"].([]any) {
			byKey[strings.ToLower(id.(map[string]any)["issuerAssignedId"].(string))] = u
		}
	}
	for line, i := range good {
		in := f.objects[i]
		key, _ := in["userPrincipalName"].(string)
		if key == "" {
			key = in["identities"].([]any)[0].(map[string]any)["issuerAssignedId"].(string)
		}
		got := byKey[strings.ToLower(key)]
		if got == nil {
			t.Errorf("line %d (%s) not found through the API", line, key)
			continue
		}
		compareImported(t, line, in, got, s.domain)

		var hash string
		if err := s.db.store.DB().QueryRow(`SELECT coalesce(password_hash, '') FROM users WHERE id = $1`, got["id"]).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		pp, _ := in["passwordProfile"].(map[string]any)
		switch {
		case pp == nil:
			if hash != "" {
				t.Errorf("line %d: a password hash for a user without a password", line)
			}
		case pp["passwordHash"] != nil:
			if hash != pp["passwordHash"] {
				t.Errorf("line %d: stored hash %q, want the imported one %q", line, hash, pp["passwordHash"])
			}
		default:
			if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, f.passwords[i]) {
				t.Errorf("line %d: plain password stored as %q", line, hash)
			}
		}
		if pp != nil {
			if err := password.Verify(hash, f.passwords[i]); err != nil {
				t.Errorf("line %d: password does not verify against the stored hash: %v", line, err)
			}
			if err := password.Verify(hash, f.passwords[i]+"x"); err == nil {
				t.Errorf("line %d: a wrong password verifies", line)
			}
		}
	}

	// The same file again: every good line is now taken, nothing changes.
	snap := s.snapshot()
	out, errOut, err = runImportCmd(t, s.cfg.DatabaseURL, file)
	if err != nil {
		t.Fatalf("second import: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "users loaded:   0\n") || !strings.Contains(out, "rejected:       "+strconv.Itoa(len(want)+len(good))+"\n") {
		t.Errorf("second import of the same file:\n%s", out)
	}
	if s.snapshot() != snap {
		t.Errorf("the second import changed the directory")
	}
}

// compareImported checks the API's view of an imported user against the
// line it came from, and the defaults Graph gives what the line left out.
func compareImported(t *testing.T, line int, in, got map[string]any, defaultDomain string) {
	t.Helper()
	for name, v := range in {
		switch name {
		case "passwordProfile", "@odata.type":
			continue
		case "identities":
			ids := got["identities"].([]any)
			want := v.([]any)
			if len(ids) != len(want)+1 || mustMarshal(ids[:len(want)]) != mustMarshal(want) {
				t.Errorf("line %d: identities = %s, want %s plus the userPrincipalName identity", line, mustMarshal(ids), mustMarshal(want))
			}
			continue
		}
		if g, w := mustMarshal(got[name]), mustMarshal(v); g != w {
			t.Errorf("line %d: %s = %s, want %s", line, name, g, w)
		}
	}
	defaults := map[string]any{"accountEnabled": true, "userType": "Member", "businessPhones": []any{}, "otherMails": []any{}}
	for name, v := range defaults {
		if _, ok := in[name]; !ok && mustMarshal(got[name]) != mustMarshal(v) {
			t.Errorf("line %d: default %s = %v, want %v", line, name, got[name], v)
		}
	}
	if _, ok := in["userPrincipalName"]; !ok {
		if upn := got["userPrincipalName"].(string); upn != got["id"].(string)+"@"+defaultDomain {
			t.Errorf("line %d: generated userPrincipalName %q", line, upn)
		}
	}
	if got["mailNickname"] == nil || got["createdDateTime"] == nil {
		t.Errorf("line %d: mailNickname or createdDateTime missing: %v", line, got)
	}
	local := false
	if ids, ok := in["identities"].([]any); ok {
		for _, id := range ids {
			if st := id.(map[string]any)["signInType"]; st == "emailAddress" || st == "userName" {
				local = true
			}
		}
	}
	if ct := got["creationType"]; local != (ct == "LocalAccount") {
		t.Errorf("line %d: creationType %v", line, ct)
	}
	_, hasPwd := in["passwordProfile"]
	if hasPwd != (got["lastPasswordChangeDateTime"] != nil) {
		t.Errorf("line %d: lastPasswordChangeDateTime %v", line, got["lastPasswordChangeDateTime"])
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func gjson(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v
}

// importSelect is every readable property.
const importSelect = "id,accountEnabled,ageGroup,businessPhones,city,companyName,consentProvidedForMinor,country," +
	"createdDateTime,creationType,department,displayName,employeeId,employeeType,faxNumber,givenName,identities," +
	"jobTitle,lastPasswordChangeDateTime,mail,mailNickname,mobilePhone,officeLocation,otherMails,passwordPolicies," +
	"postalCode,preferredLanguage,proxyAddresses,state,streetAddress,surname,usageLocation,userPrincipalName,userType"

func listAll(t *testing.T, s *stack, token string) []map[string]any {
	t.Helper()
	var out []map[string]any
	link := "/v1.0/users?$top=100&$select=" + importSelect
	for link != "" {
		r := s.do("GET", link, token, nil)
		if r.Status != 200 {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		page := r.JSON(t)
		for _, u := range page["value"].([]any) {
			out = append(out, u.(map[string]any))
		}
		link, _ = page["@odata.nextLink"].(string)
	}
	return out
}

func countAllUsers(t *testing.T, s *stack) int {
	t.Helper()
	var n int
	if err := s.db.store.DB().QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
