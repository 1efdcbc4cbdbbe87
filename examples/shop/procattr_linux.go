//go:build linux

package main

import "syscall"

// childProcAttr puts a child of the split topology in a process group of
// its own, so a terminal's Ctrl-C reaches only the supervisor, which stops
// the children in order (the gateway first); and asks the kernel to send
// the child SIGTERM should the supervisor die without stopping it, so no
// service outlives its shop.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
