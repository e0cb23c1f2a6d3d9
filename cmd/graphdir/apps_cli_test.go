package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func TestAppCLI(t *testing.T) {
	env := map[string]string{"DATABASE_URL": pgtest.NewURL(t), "GRAPHDIR_DOMAINS": "graphdir.test"}
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"app"}, args...), func(k string) string { return env[k] }, &out, io.Discard); err != nil {
			t.Fatalf("app %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	out := cli("create", "--name", "cli job", "--permissions", "user.read.all,Directory.Read.All")
	client := regexp.MustCompile(`client id:\s+(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`client secret:\s+(\S{40})\n`).FindStringSubmatch(out)
	if client == nil || secret == nil || !strings.Contains(out, "Directory.Read.All User.Read.All") || !strings.Contains(out, "/oauth2/v2.0/token") {
		t.Fatalf("create output:\n%s", out)
	}
	if out := cli("list"); !strings.Contains(out, client[1]) || !strings.Contains(out, "cli job") || strings.Contains(out, secret[1]) {
		t.Fatalf("list output:\n%s", out)
	}
	out = cli("secret", "add", "--app", client[1], "--name", "second", "--days", "30")
	key := regexp.MustCompile(`secret key id:\s+(\S+)`).FindStringSubmatch(out)
	if key == nil {
		t.Fatalf("secret add output:\n%s", out)
	}
	cli("secret", "remove", "--app", client[1], "--key-id", key[1])
	if out := cli("grant", "--app", client[1], "--permissions", "User.ReadWrite.All"); !strings.Contains(out, "User.ReadWrite.All") || strings.Contains(out, "Directory.Read.All") {
		t.Fatalf("grant output:\n%s", out)
	}
	cli("delete", "--app", client[1])
	if out := cli("list"); strings.Contains(out, client[1]) {
		t.Fatalf("deleted app still listed:\n%s", out)
	}
	var errOut bytes.Buffer
	if err := run(context.Background(), []string{"app", "create", "--name", "x", "--permissions", "Mail.Send"}, func(k string) string { return env[k] }, io.Discard, &errOut); err == nil {
		t.Fatal("unknown permission accepted")
	}
}
