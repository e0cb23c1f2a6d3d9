// Command graphdir serves a Microsoft Graph v1.0-compatible /users API on
// PostgreSQL. main only wires: every subcommand is a function of its
// arguments and the process environment, so tests can call run directly.
//
// It may import every package of graphdir; nothing imports it. The import
// engine, the scheduler and the store keep the logic: a file here parses
// flags, opens what the subcommand needs and calls them.
package main
