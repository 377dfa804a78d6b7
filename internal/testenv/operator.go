package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// BuildOperator builds the operator's binary into dir and returns its path.
func BuildOperator(dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the operator: %v\n%s", err, out)
	}
	return bin, nil
}

// AuditLogKeySecret is where operators started by tests keep their audit
// log key, where the shipped RBAC lets them: the operator's default. The
// public key is published in the ConfigMap of the same name.
const AuditLogKeySecret = OperatorNamespace + "/incident-operator-audit-log-key"

// Operator runs the operator binary as its own process, as in production.
type Operator struct {
	Binary string
	// Kubeconfig acts as the operator's ServiceAccount
	// (WriteOperatorKubeconfig), never as an administrator.
	Kubeconfig string
	Args       []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  bytes.Buffer
	runs int
}

// Start starts a new operator process; the previous one must have ended.
func (o *Operator) Start() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cmd != nil {
		return fmt.Errorf("operator already running as pid %d", o.cmd.Process.Pid)
	}
	o.runs++
	fmt.Fprintf(&o.log, "---- operator start %d\n", o.runs)
	// Outside a Pod the operator cannot read its namespace from the mounted
	// ServiceAccount, so its Lease is placed where the shipped Role allows.
	// The tests' receivers listen on loopback, which the operator refuses
	// unless told.
	defaults := []string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--audit-log-key-secret=" + AuditLogKeySecret,
		"--leader-election-namespace=" + OperatorNamespace, "--allow-loopback-destinations"}
	cmd := exec.Command(o.Binary, append(defaults, o.Args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.Kubeconfig)
	cmd.Stdout, cmd.Stderr = lockedWriter{&o.mu, &o.log}, lockedWriter{&o.mu, &o.log}
	if err := cmd.Start(); err != nil {
		return err
	}
	o.cmd, o.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(o.done)
	return nil
}

// Running is true while the process started last has not exited.
func (o *Operator) Running() bool {
	o.mu.Lock()
	done := o.done
	o.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill ends the process with SIGKILL, as a node failure or OOM kill would:
// no deferred work, no graceful shutdown.
func (o *Operator) Kill() error { return o.signal(syscall.SIGKILL) }

// Stop ends the process with SIGTERM and waits for it to shut down.
func (o *Operator) Stop() error { return o.signal(syscall.SIGTERM) }

func (o *Operator) signal(sig syscall.Signal) error {
	o.mu.Lock()
	cmd, done := o.cmd, o.done
	o.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	o.mu.Lock()
	o.cmd, o.done = nil, nil
	o.mu.Unlock()
	return nil
}

// Pid is the process id of the running operator, or 0.
func (o *Operator) Pid() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cmd == nil {
		return 0
	}
	return o.cmd.Process.Pid
}

// Log is everything the operator's processes have written.
func (o *Operator) Log() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
