package gosdk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"

	abs "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/directory"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// staticToken hands the SDK a token minted by the test's issuer.
type staticToken struct {
	token string
	hosts *absauth.AllowedHostsValidator
}

func (p *staticToken) GetAuthorizationToken(context.Context, *url.URL, map[string]any) (string, error) {
	return p.token, nil
}

func (p *staticToken) GetAllowedHostsValidator() *absauth.AllowedHostsValidator { return p.hosts }

// graphClient is the part of msgraph-sdk-go's GraphServiceClient this
// test uses. The root package (msgraphsdk.NewGraphServiceClient) imports
// every request builder of Graph, four times the code of users, directory
// and models and minutes more to compile, so the client is assembled here
// exactly as the root package assembles it: its request adapter
// (msgraph-sdk-go-core's, with Graph's default middleware), the default
// serializers, and the users and directory builders at {baseurl}.
type graphClient struct {
	adapter abs.RequestAdapter
	params  map[string]string
}

func (c *graphClient) Users() *users.UsersRequestBuilder {
	return users.NewUsersRequestBuilderInternal(c.params, c.adapter)
}

func (c *graphClient) Directory() *directory.DirectoryRequestBuilder {
	return directory.NewDirectoryRequestBuilderInternal(c.params, c.adapter)
}

// goSDKClient is Microsoft's Go SDK, unmodified, pointed at the server:
// only the base URL differs from a client of Graph.
func goSDKClient(t *testing.T, s *server, token string) (*graphClient, abs.RequestAdapter) {
	t.Helper()
	u, _ := url.Parse(s.url)
	hosts, err := absauth.NewAllowedHostsValidatorErrorCheck([]string{u.Host})
	if err != nil {
		t.Fatal(err)
	}
	auth := absauth.NewBaseBearerTokenAuthenticationProvider(&staticToken{token: token, hosts: hosts})
	opts := msgraphcore.GraphClientOptions{GraphServiceLibraryVersion: "1.89.0"}
	adapter, err := msgraphcore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, opts, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// GraphServiceClient's constructor registers these.
	abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return jsonser.NewJsonSerializationWriterFactory() })
	abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return textser.NewTextSerializationWriterFactory() })
	abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return jsonser.NewJsonParseNodeFactory() })
	abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return textser.NewTextParseNodeFactory() })
	adapter.SetBaseUrl(s.url + "/v1.0")
	return &graphClient{adapter: adapter, params: map[string]string{"baseurl": adapter.GetBaseUrl()}}, adapter
}

// syncRound is one round of a sync job as Microsoft documents it for the
// Go SDK: delta through PageIterator until the delta link. It returns the
// users seen (by id, nil for @removed) and the delta link.
func syncRound(ctx context.Context, t *testing.T, client *graphClient, adapter abs.RequestAdapter, deltaLink string) (map[string]models.Userable, string) {
	t.Helper()
	var (
		page users.DeltaGetResponseable
		err  error
	)
	if deltaLink == "" {
		page, err = client.Users().Delta().GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: []string{"displayName", "city"}},
			Headers:         preferPageSize(2),
		})
	} else {
		page, err = client.Users().Delta().WithUrl(deltaLink).GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{Headers: preferPageSize(2)})
	}
	if err != nil {
		t.Fatalf("delta: %v", describeODataError(err))
	}
	it, err := msgraphcore.NewPageIterator[models.Userable](page, adapter, users.CreateDeltaGetResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	it.SetHeaders(preferPageSize(2))
	seen := map[string]models.Userable{}
	if err := it.Iterate(ctx, func(u models.Userable) bool {
		if _, removed := u.GetAdditionalData()["@removed"]; removed {
			seen[*u.GetId()] = nil
		} else {
			seen[*u.GetId()] = u
		}
		return true
	}); err != nil {
		t.Fatalf("delta pages: %v", describeODataError(err))
	}
	link := it.GetOdataDeltaLink()
	if link == nil || *link == "" {
		t.Fatal("the last delta page has no @odata.deltaLink")
	}
	return seen, *link
}

func preferPageSize(n int) *abs.RequestHeaders {
	h := abs.NewRequestHeaders()
	h.Add("Prefer", "odata.maxpagesize="+strconv.Itoa(n))
	return h
}

// describeODataError adds the status, Graph error code and message to an
// SDK error (its Error() is only "error status code received from the API").
func describeODataError(err error) error {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && oe.GetErrorEscaped() != nil {
		e := oe.GetErrorEscaped()
		return fmt.Errorf("%d %s: %s", oe.ResponseStatusCode, deref(e.GetCode()), deref(e.GetMessage()))
	}
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestGoSDKSync is the sync loop a job written with msgraph-sdk-go runs,
// unmodified, against graphdir: a first delta round with PageIterator to
// the delta link (two users a page, so it pages), changes (create, update,
// delete), a round from the delta link that reports them (the deleted user
// as @removed), a round without changes, delta tracking chosen users by
// $filter, and the deleted-items builders (list the graph.user cast, get,
// restore).
func TestGoSDKSync(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	client, adapter := goSDKClient(t, s, s.appToken("User.ReadWrite.All", "User.DeleteRestore.All"))

	create := func(name string) string {
		t.Helper()
		u := models.NewUser()
		u.SetDisplayName(&name)
		id := models.NewObjectIdentity()
		signIn, issuer, email := "emailAddress", "graphdir.local", name+"@example.com"
		id.SetSignInType(&signIn)
		id.SetIssuer(&issuer)
		id.SetIssuerAssignedId(&email)
		u.SetIdentities([]models.ObjectIdentityable{id})
		pp := models.NewPasswordProfile()
		pw := "Str0ng!Passw0rd"
		pp.SetPassword(&pw)
		u.SetPasswordProfile(pp)
		created, err := client.Users().Post(ctx, u, nil)
		if err != nil {
			t.Fatalf("create %s: %v", name, describeODataError(err))
		}
		return *created.GetId()
	}
	a, b, c := create("ann"), create("bob"), create("cid")

	first, link := syncRound(ctx, t, client, adapter, "")
	for _, id := range []string{a, b, c} {
		if first[id] == nil {
			t.Fatalf("first round misses %s: %v", id, keys(first))
		}
	}
	if len(first) != 3 {
		t.Fatalf("first round: %v", keys(first))
	}

	// Changes: one new, one updated, one deleted.
	d := create("dee")
	city := "Oslo"
	patch := models.NewUser()
	patch.SetCity(&city)
	if _, err := client.Users().ByUserId(a).Patch(ctx, patch, nil); err != nil {
		t.Fatal(err)
	}
	if err := client.Users().ByUserId(b).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}

	second, link2 := syncRound(ctx, t, client, adapter, link)
	if len(second) != 3 || second[d] == nil || second[a] == nil || second[b] != nil {
		t.Fatalf("second round: want %s new, %s changed, %s @removed; got %v", d, a, b, keys(second))
	}
	if got := second[a].GetCity(); got == nil || *got != "Oslo" {
		t.Fatalf("changed user's city: %v", got)
	}
	if _, ok := second[b]; !ok {
		t.Fatal("deleted user not reported")
	}

	// Nothing changed since: an empty round, and the link keeps working.
	third, _ := syncRound(ctx, t, client, adapter, link2)
	if len(third) != 0 {
		t.Fatalf("third round without changes: %v", keys(third))
	}

	// Tracking chosen users, Graph's way: $filter=id eq … or id eq ….
	filter := "id eq '" + a + "' or id eq '" + c + "'"
	chosen, err := client.Users().Delta().GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Filter: &filter},
	})
	if err != nil {
		t.Fatalf("delta with $filter: %v", describeODataError(err))
	}
	var chosenIDs []string
	for _, u := range chosen.GetValue() {
		chosenIDs = append(chosenIDs, *u.GetId())
	}
	slices.Sort(chosenIDs)
	if want := []string{a, c}; !slices.Equal(chosenIDs, slices.Sorted(slices.Values(want))) {
		t.Fatalf("delta $filter=%s: %v", filter, chosenIDs)
	}

	// Deleted items through the SDK's own builders.
	deleted, err := client.Directory().DeletedItems().GraphUser().Get(ctx, nil)
	if err != nil {
		t.Fatalf("deletedItems/graph.user: %v", describeODataError(err))
	}
	var deletedIDs []string
	for _, u := range deleted.GetValue() {
		deletedIDs = append(deletedIDs, *u.GetId())
	}
	if !slices.Equal(deletedIDs, []string{b}) {
		t.Fatalf("deleted items: %v, want [%s]", deletedIDs, b)
	}
	got, err := client.Directory().DeletedItems().ByDirectoryObjectId(b).Get(ctx, nil)
	if err != nil || got.GetDeletedDateTime() == nil {
		t.Fatalf("get deleted item: %v %v", got, err)
	}
	restored, err := client.Directory().DeletedItems().ByDirectoryObjectId(b).Restore().Post(ctx, nil)
	if err != nil || *restored.GetId() != b {
		t.Fatalf("restore: %v", err)
	}
	if _, err := client.Users().ByUserId(b).Get(ctx, nil); err != nil {
		t.Fatalf("restored user: %v", err)
	}
}

func keys(m map[string]models.Userable) []string {
	var out []string
	for k, v := range m {
		if v == nil {
			k += "(removed)"
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
