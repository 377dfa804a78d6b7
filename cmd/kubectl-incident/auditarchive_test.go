package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"

	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/translog"
)

// archivedFixture writes a year of one namespace's log, a batch a week, to
// a directory archive as the operator does, and the public key as audit
// key prints it.
func archivedFixture(t *testing.T) (dir, keyFile string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "incident-operator-audit-log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	store, err := archive.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	writer := archive.NewWriter(store, 0, clock.RealClock{})
	const origin = "incident-operator/council"
	log := translog.NewLog(origin, &translog.MemoryHashes{})
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for week := range 52 {
		var entries []translog.Entry
		for i := range 20 {
			entries = append(entries, translog.Entry{Namespace: "council", Incident: fmt.Sprintf("incident-%02d", week), UID: fmt.Sprintf("uid-%02d", week),
				Action: "Routed", Operator: true, Time: start.Add(time.Duration(week)*7*24*time.Hour + time.Duration(i)*time.Minute)})
		}
		b, err := log.Next(entries, signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := log.Append(b); err != nil {
			t.Fatal(err)
		}
		if err := writer.Append(context.Background(), origin, b); err != nil {
			t.Fatal(err)
		}
	}
	keyFile = filepath.Join(t.TempDir(), "audit-log.pub")
	if err := os.WriteFile(keyFile, []byte(vkey+"\norigin incident-operator\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, keyFile
}

// runOffline runs the plugin with no cluster and no kubeconfig.
func runOffline(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := newOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	root := newRootCommand(o)
	root.SetArgs(append(args, "--kubeconfig", filepath.Join(t.TempDir(), "none")))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err = root.Execute(); err != nil {
		printError(&errOut, err)
	}
	return out.String(), errOut.String(), err
}

// An auditor verifies the archive with only the public key, no cluster: a
// whole year, a month read on its own, and each kind of tampering named.
func TestAuditVerifyArchiveOffline(t *testing.T) {
	dir, key := archivedFixture(t)
	out, errOut, err := runOffline(t, "audit", "verify", "--archive", dir, "-n", "council", "--log-key", key)
	if err != nil || !strings.Contains(out, "archive incident-operator/council: verified entries 0-1039 of 1040 (52 batches)") {
		t.Fatalf("the year does not verify: %v\n%s%s", err, out, errOut)
	}
	out, _, err = runOffline(t, "audit", "verify", "--archive", dir, "--all", "--log-key", key, "--from", "2026-06-01", "--to", "2026-07-01")
	if err != nil || !strings.Contains(out, "archive incident-operator/council: verified entries ") || strings.Contains(out, "entries 0-") {
		t.Fatalf("June does not verify on its own: %v\n%s", err, out)
	}
	if _, errOut, err := runOffline(t, "audit", "verify", "--archive", dir, "-n", "council"); err == nil || !strings.Contains(errOut, "--archive needs --log-key") {
		t.Errorf("no key: %v\n%s", err, errOut)
	}

	// An entry edited in an archived batch.
	batch := filepath.Join(dir, "incident-operator", "council", "batches", translog.BatchName(200))
	data, err := os.ReadFile(batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(batch, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(batch, bytes.Replace(data, []byte(`"Routed"`), []byte(`"Closed"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = runOffline(t, "audit", "verify", "--archive", dir, "-n", "council", "--log-key", key)
	if err == nil || !strings.Contains(out, "archive incident-operator/council: BROKEN: log does not verify: entr") || !strings.Contains(out, "uid-10") {
		t.Errorf("an edited entry verifies, or is not named with its incident: %v\n%s%s", err, out, errOut)
	}
	if err := os.WriteFile(batch, data, 0o600); err != nil {
		t.Fatal(err)
	}

	// A month cut off: the batches of March removed.
	for first := int64(160); first < 160+4*20; first += 20 {
		if err := os.Remove(filepath.Join(dir, "incident-operator", "council", "batches", translog.BatchName(first))); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err = runOffline(t, "audit", "verify", "--archive", dir, "-n", "council", "--log-key", key)
	if err == nil || !strings.Contains(out, "BROKEN") || !strings.Contains(errOut, "do not verify") {
		t.Errorf("a month cut off verifies: %v\n%s%s", err, out, errOut)
	}
}
