package textlimit

// Ellipsis marks text that Clip shortened.
const Ellipsis = "…"

// Clip returns s when it is at most max bytes long, and otherwise its
// longest prefix of at most max bytes that ends on a character boundary,
// followed by Ellipsis. A byte that is not valid UTF-8 counts as a character
// of its own, so hostile input is cut between its bytes, never inside a
// valid character. The result may thus exceed max by len(Ellipsis).
func Clip(s string, max int) string { return ClipMarked(s, max, Ellipsis) }

// ClipMarked is Clip with marker in place of Ellipsis, for stores that
// name the cut in words (the audit log's "…[truncated]").
func ClipMarked(s string, max int, marker string) string {
	if len(s) <= max {
		return s
	}
	cut := 0
	for i := range s { // i steps over characters; an invalid byte is one
		if i > max {
			break
		}
		cut = i
	}
	return s[:cut] + marker
}
