package config

import (
	"fmt"
	"strconv"
)

// nativeAuthVars document the native authentication settings; Vars
// includes them.
var nativeAuthVars = []Var{
	{"GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND", "", "false", "the default for tenants that have not chosen (graphdir tenant set --hide-user-not-found): answer an unknown username at native sign-in and password reset as if the account existed (no user_not_found: the code never verifies, a password gets 50126) so the API does not reveal who has an account"},
}

func init() { Vars = append(Vars, nativeAuthVars...) }

// loadNativeAuthHide reads GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND.
func loadNativeAuthHide(env func(string) string, problems *[]string) bool {
	const name = "GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND"
	b, err := strconv.ParseBool(env(name))
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s: %q must be true or false", name, env(name)))
	}
	return b
}
