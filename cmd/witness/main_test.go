package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/incidentops/incident-operator/internal/translog"
	"github.com/incidentops/incident-operator/internal/witness"
)

const origin = "incidents.example.com/log/security"

// build builds the witness binary into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "witness")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServeCosignsAndStopsOnSIGTERM runs the binary as an operator would:
// keygen, serve on a free loopback port, a checkpoint of a real log
// submitted and cosigned, then SIGTERM.
func TestServeCosignsAndStopsOnSIGTERM(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	keyFile, stateDir := filepath.Join(dir, "witness.key"), filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "keygen", "--name", "witness.example.com/security-team", "--key-file", keyFile).Output()
	if err != nil {
		t.Fatalf("keygen: %v", err)
	}
	witnessKey := strings.TrimSpace(string(out))
	if info, err := os.Stat(keyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the private key file: %v, mode %v, want 0600", err, info.Mode().Perm())
	}

	skey, vkey, err := note.GenerateKey(strings.NewReader(strings.Repeat("L", 64)), origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	logVerifier, _ := note.NewVerifier(vkey)

	serve := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--key-file", keyFile, "--state-dir", stateDir, "--log", origin+"="+vkey)
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logged bytes.Buffer
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		serving := regexp.MustCompile(`msg=serving addr=(\S+)`)
		for lines.Scan() {
			logged.WriteString(lines.Text() + "\n")
			if m := serving.FindStringSubmatch(lines.Text()); m != nil {
				addr <- m[1]
			}
		}
		exited <- serve.Wait()
	}()
	t.Cleanup(func() { serve.Process.Kill() })
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-exited:
		t.Fatalf("serve exited: %v\n%s", err, logged.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not say where it serves in 30s")
	}

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}

	log := translog.NewLog(origin, &translog.MemoryHashes{})
	batch, err := log.Next([]translog.Entry{{Namespace: "security", Incident: "incident-001", UID: "0b5e1c2d", Action: "Reported", Actor: "analyst@example.com", Time: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)}}, signer)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cosigned, err := witness.Submit(ctx, http.DefaultClient, base, 0, nil, batch.Checkpoint)
	if err != nil {
		t.Fatalf("submitting a checkpoint: %v", err)
	}
	witnessVerifier, err := witness.NewVerifier(witnessKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := witness.VerifyCosigned(cosigned, origin, logVerifier, []note.Verifier{witnessVerifier}, 1); err != nil {
		t.Errorf("the binary's cosignature: %v\n%s", err, cosigned)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM serve exited with %v, want status 0\n%s", err, logged.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop within 15s of SIGTERM\n%s", logged.String())
	}
	if !strings.Contains(logged.String(), "msg=stopped") {
		t.Errorf("serve did not say it stopped:\n%s", logged.String())
	}
	if files, _ := filepath.Glob(filepath.Join(stateDir, "*.checkpoint")); len(files) != 1 {
		t.Errorf("the state directory holds %q, want one checkpoint", files)
	}
}

// TestBadInputNamesTheFlag runs the commands in-process with what an
// operator might get wrong: each error names the flag to fix.
func TestBadInputNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "witness.key")
	var out bytes.Buffer
	if status := run(context.Background(), []string{"keygen", "--name", "witness.example.com/w", "--key-file", keyFile}, &out, io.Discard); status != 0 {
		t.Fatalf("keygen exited %d", status)
	}
	_, vkey, err := note.GenerateKey(strings.NewReader(strings.Repeat("L", 64)), origin)
	if err != nil {
		t.Fatal(err)
	}
	logsFile := filepath.Join(dir, "logs")
	if err := os.WriteFile(logsFile, []byte("# the security namespace's log\n\n"+origin+" "+vkey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(extra ...string) []string {
		return append([]string{"serve", "--listen", "127.0.0.1:0"}, extra...)
	}
	tests := map[string]struct {
		args []string
		want string
	}{
		"no command":               {nil, "Usage:"},
		"an unknown command":       {[]string{"cosign"}, `unknown command "cosign"`},
		"keygen without a name":    {[]string{"keygen", "--key-file", filepath.Join(dir, "k")}, "--name: required"},
		"keygen with a bad name":   {[]string{"keygen", "--name", "a b", "--key-file", filepath.Join(dir, "k2")}, "--name: witness key name"},
		"keygen over a key":        {[]string{"keygen", "--name", "w", "--key-file", keyFile}, "--key-file: " + keyFile + " exists"},
		"serve without a key":      {serve("--state-dir", dir, "--log", origin+"="+vkey), "--key-file: required"},
		"serve with a missing key": {serve("--key-file", filepath.Join(dir, "none"), "--state-dir", dir, "--log", origin+"="+vkey), "--key-file: open"},
		"serve with a log key":     {serve("--key-file", logsFile, "--state-dir", dir, "--log", origin+"="+vkey), "--key-file: " + logsFile},
		"serve without state":      {serve("--key-file", keyFile, "--log", origin+"="+vkey), "--state-dir: required"},
		"serve with missing state": {serve("--key-file", keyFile, "--state-dir", filepath.Join(dir, "none"), "--log", origin+"="+vkey), "--state-dir: " + filepath.Join(dir, "none") + " is not a directory"},
		"serve without logs":       {serve("--key-file", keyFile, "--state-dir", dir), "--log: required"},
		"a log without a key":      {serve("--key-file", keyFile, "--state-dir", dir, "--log", origin), "--log: \"" + origin + "\" is not ORIGIN=VERIFIER KEY"},
		"a log with a bad key":     {serve("--key-file", keyFile, "--state-dir", dir, "--log", origin+"=not-a-key"), "--log: the key of " + origin},
		"a logs file without =":    {serve("--key-file", keyFile, "--state-dir", dir, "--logs-file", logsFile), "--logs-file " + logsFile + " line 3:"},
		"a bad listen address":     {[]string{"serve", "--listen", "127.0.0.1:99999", "--key-file", keyFile, "--state-dir", dir, "--log", origin + "=" + vkey}, "--listen:"},
		"an unknown flag":          {serve("--port", "1"), "unknown flag: --port"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			status := run(context.Background(), tc.args, io.Discard, &stderr)
			if status != 2 {
				t.Errorf("exit status %d, want 2", status)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tc.want)
			}
		})
	}
}
