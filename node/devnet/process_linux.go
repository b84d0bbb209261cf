package devnet

import "syscall"

// childAttr puts a child in process group pgid (0: a new one it leads) and has the kernel send
// it SIGTERM when its parent dies, even by SIGKILL or a closed terminal: a devnet never leaves
// nodes behind. SIGTERM rather than SIGKILL lets each node close its stores cleanly.
//
// The kernel ties the signal to the thread that forked rather than the process. The Go
// runtime ends a thread only when a goroutine exits while locked to it, which the devnet's
// goroutines never do; a library that did so could end a node early, and the devnet's verdicts
// would then report that node as dead.
func childAttr(pgid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pgid: pgid, Pdeathsig: syscall.SIGTERM}
}
