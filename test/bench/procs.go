package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// proc is one process under test: a worker, HAProxy, redis-server, ...
//
// test/worker starts demo workers for tests, but through a testing.TB and
// without showing their PIDs, which the CPU accounting needs; this is the
// few lines of it a benchmark needs, for every kind of server.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has been reaped
	err     error         // cmd.Wait's, set before exited closes
}

// startProc starts bin with args, its output going to logPath. env is
// added to this process's environment less its SESSIONS_* variables, so
// the shell cannot change what a case means.
func startProc(name, logPath, bin string, args, env []string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	fmt.Fprintf(logf, "=== %s: %s %s\n", name, strings.Join(env, " "), strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIONS_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// alive reports whether the process has not exited.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill ends the process (SIGKILL: nothing of a benchmark's state is worth
// a graceful drain) and waits until it is reaped.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	lines = lines[max(0, len(lines)-n):]
	return fmt.Sprintf("--- %s (%s) ---\n%s", p.name, p.logPath, bytes.Join(lines, []byte("\n")))
}

// waitReady polls check every 20ms until it succeeds, p exits, ctx ends or
// timeout passes; the error carries the end of p's log.
func waitReady(ctx context.Context, p *proc, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w\n%s", p.name, timeout, err, p.tail(20))
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited (%v) before ready: %w\n%s", p.name, p.err, err, p.tail(20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dialCheck returns a check that addr accepts TCP connections.
func dialCheck(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
}

// lineCheck returns a check that addr answers send with a line that
// starts with want (PING/+PONG for Redis, version/VERSION for memcached).
func lineCheck(addr, send, want string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte(send)); err != nil {
			return err
		}
		buf := make([]byte, 128)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(buf[:n]), want) {
			return fmt.Errorf("%s answered %q, want %q", addr, buf[:n], want)
		}
		return nil
	}
}
