// Package logtest captures log output in tests: its Buffer is a writer that
// a server's goroutines and the test reading the log may share.
//
// It imports nothing of ours, so that the tests of every package may use it;
// serving code must not import it.
package logtest
