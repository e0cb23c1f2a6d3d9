// Package schedule runs background jobs at their intervals: the serving
// process's periodic work (purging deleted users, pruning the change log).
// A job is a plain function; the store methods it calls know nothing of
// timers.
//
// It imports nothing of ours and must stay that way: jobs arrive as
// closures wired in cmd/graphdir.
package schedule
