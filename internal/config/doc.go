// Package config turns the environment and command-line flags into a
// validated Config. It is the one place that reads the environment; every
// problem is reported at once, before anything starts.
//
// It imports nothing of ours: cmd/graphdir hands the Config to the packages
// that need its values.
package config
