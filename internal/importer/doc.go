// Package importer is the engine of `graphdir import` and of the bench's
// seeding: it reads JSON Lines of Graph user objects, decodes them (a fast
// decoder for the common shape, the strict one for everything else and for
// every error), validates them with the rules of POST /users
// (directory.Service.NewImportUser), hashes plain passwords in parallel, and
// loads them in batches through a directory.ImportStore, reporting rejected
// lines and progress.
//
// It must not import Gin, internal/api, database drivers or
// internal/store/postgres (outside tests): the store arrives as a
// directory.ImportStore, and cmd/graphdir keeps the flags and the wiring.
package importer
