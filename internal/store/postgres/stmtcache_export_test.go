package postgres

import "github.com/graphdir/graphdir/internal/directory"

// PreparedCountForTest returns the number of cached prepared statements,
// after the background prepares have finished.
func PreparedCountForTest(s *Store) int {
	s.stmts.wg.Wait()
	return s.stmts.len()
}

// SetStmtCacheSizeForTest changes the bound of the statement cache.
func SetStmtCacheSizeForTest(s *Store, n int) {
	s.stmts.mu.Lock()
	s.stmts.max = n
	s.stmts.mu.Unlock()
}

// PreparedListForTest reports whether ListUsers runs q prepared.
func PreparedListForTest(q directory.ListQuery) bool { return preparedList(q) }
