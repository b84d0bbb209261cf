//go:build !linux

package devnet

import "syscall"

// childAttr puts a child in process group pgid (0: a new one it leads). Outside Linux there is
// no parent-death signal: Devnet.Stop signals the group.
func childAttr(pgid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
}
