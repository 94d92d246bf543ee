package broker

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// FreeMemory runs a garbage collection, returns the freed memory to the
// system (the Go runtime otherwise keeps it a while for reuse) and says
// how much is still in use.
func FreeMemory() string {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("Freed memory: heap in use %d MiB, held from the system %d MiB.", ms.HeapInuse>>20, (ms.Sys-ms.HeapReleased)>>20)
}
