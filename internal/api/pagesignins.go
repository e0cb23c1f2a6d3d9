package api

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
)

// PageSignIn is a sign-in the hosted pages finish without the password
// check (which logs itself): an email-code sign-in, right or wrong, and
// the sign-in that ends a sign-up. Native authentication logs the same
// steps with the same fields (nativeauth.SignInRecord): the user's id,
// the sign-in email as userPrincipalName, the application, the IP,
// Entra's error code and, when MFA was part of it, multiFactorAuthentication.
type PageSignIn struct {
	TenantID, UserID, Username, ClientID, AppDisplayName, IP string
	// ErrorCode is Entra's (0: success); FailureReason says why not.
	ErrorCode     int
	FailureReason string
	MultiFactor   bool
}

// codeSignInFailed is Entra's AADSTS50181 (the one-time code was not
// accepted), the code native authentication logs for a refused code.
const codeSignInFailed = 50181

// codeSignInFailure is the failure reason both flows log for it.
const codeSignInFailure = "The one-time code was wrong, expired or spent."

// recordPageSignIn logs e; a sign-in that cannot be logged does not go
// on (no unlogged sign-in), as recordMFA.
func (s *server) recordPageSignIn(c *gin.Context, e PageSignIn, amr []string) bool {
	if s.browser.Log == nil {
		return true
	}
	e.IP, e.MultiFactor = c.ClientIP(), slices.Contains(amr, "mfa")
	if err := s.browser.Log.RecordPageSignIn(c.Request.Context(), e); err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return false
	}
	return true
}
