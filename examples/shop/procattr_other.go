//go:build !linux

package main

import "syscall"

// childProcAttr is the default outside Linux: the children share the
// supervisor's process group, so a terminal's Ctrl-C reaches them too, and
// each shuts down on its own.
func childProcAttr() *syscall.SysProcAttr { return nil }
