// Package doctest holds the README's doc test: it extracts the shell blocks
// of README.md and runs the runnable ones, in order, in one shell, against a
// dev sandbox broker on free ports, so that the README cannot rot.
//
// A block fenced with ```sh runs as written; one fenced with ```sh template
// is an example to adapt and is not run, and its first line is a comment
// saying what it needs. The blocks run from a fresh folder with mqtls on the
// PATH and `mqtls broker` (the sandbox of `make run`) running in it; the
// sandbox's well-known ports 1883, 8883 and 8088 are replaced by the free
// ports it listens on.
package doctest
