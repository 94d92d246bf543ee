// Package fileio is how mqtls reads and writes its files: reads bounded in
// size ([ReadFile]), so that a wrong path (a disk image, /dev/zero) fails
// fast instead of filling memory; atomic writes with an explicit mode
// ([WriteFile], [WriteFileVia]); private folders ([MkdirPrivate]); and PEM
// certificates and blocks ([ParseCerts], [ReadCerts], [Blocks]).
package fileio
