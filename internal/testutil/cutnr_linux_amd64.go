package testutil

import "golang.org/x/sys/unix"

// cutNR are the numbers of CutSyscalls on this architecture.
var cutNR = map[string]uint32{
	"fsync":     unix.SYS_FSYNC,
	"fdatasync": unix.SYS_FDATASYNC,
	"rename":    unix.SYS_RENAME,
	"renameat":  unix.SYS_RENAMEAT,
	"renameat2": unix.SYS_RENAMEAT2,
	"unlinkat":  unix.SYS_UNLINKAT,
	"ftruncate": unix.SYS_FTRUNCATE,
}
