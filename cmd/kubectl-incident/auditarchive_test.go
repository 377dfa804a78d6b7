package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
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
	"github.com/incidentops/incident-operator/internal/witness"
)

// archivedFixture writes a year of one namespace's log, a batch of 20
// entries a week, to a directory archive as the operator does, and the
// public key as audit key prints it.
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
	dir, _ = writeArchivedLog(t, signer, 52, 20, "Routed")
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
	t.Logf("June: %s", out)
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

// writeArchivedLog writes a log of weeks batches of perWeek entries, their
// action action, to a new directory archive, and returns it with the log.
func writeArchivedLog(t *testing.T, signer note.Signer, weeks, perWeek int, action string) (string, *translog.Log) {
	t.Helper()
	dir := t.TempDir()
	store, err := archive.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	writer := archive.NewWriter(store, 0, clock.RealClock{})
	const origin = "incident-operator/council"
	log := translog.NewLog(origin, &translog.MemoryHashes{})
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for week := range weeks {
		entries := make([]translog.Entry, perWeek)
		for i := range entries {
			entries[i] = translog.Entry{Namespace: "council", Incident: fmt.Sprintf("incident-%02d", week), UID: fmt.Sprintf("uid-%02d", week),
				Action: action, Operator: true, Time: start.Add(time.Duration(week)*7*24*time.Hour + time.Duration(i)*time.Minute)}
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
	return dir, log
}

// newestCheckpoint is the signed checkpoint of the archived log's newest
// batch.
func newestCheckpoint(t *testing.T, dir string) []byte {
	t.Helper()
	store, err := archive.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := store.List(context.Background(), "incident-operator/council/checkpoints/")
	if err != nil || len(keys) == 0 {
		t.Fatalf("no checkpoints: %v", err)
	}
	data, err := store.Get(context.Background(), keys[len(keys)-1])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// With --require-witness, an archive verifies only with a checkpoint the
// witness cosigned that it extends. An administrator who holds the log key
// rewrites the log and signs it again: the witness refuses the rewritten
// checkpoint and keeps it as evidence, and the rewritten archive fails
// verification, with the earlier cosigned checkpoint or without any.
func TestAuditVerifyArchiveRequiresTheWitness(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "incident-operator-audit-log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	logVerifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	wskey, wvkey, err := witness.GenerateKey(rand.Reader, "witness.example.org/security")
	if err != nil {
		t.Fatal(err)
	}
	cosigner, err := witness.NewCosigner(wskey, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	w, err := witness.New(witness.Config{Cosigner: cosigner, StateDir: state, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Logs: []witness.Log{{Origin: "incident-operator/*", Verifiers: []note.Verifier{logVerifier}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	key := filepath.Join(t.TempDir(), "audit-log.pub")
	if err := os.WriteFile(key, []byte(vkey+"\norigin incident-operator\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	dir, _ := writeArchivedLog(t, signer, 10, 1, "Routed")
	args := []string{"audit", "verify", "--archive", dir, "-n", "council", "--log-key", key, "--require-witness", wvkey}
	if out, _, err := runOffline(t, args...); err == nil || !strings.Contains(out, "no checkpoint of incident-operator/council cosigned by the witness") {
		t.Errorf("an archive no witness cosigned verifies: %v\n%s", err, out)
	}
	cosigned, err := witness.Submit(context.Background(), srv.Client(), srv.URL, 0, nil, newestCheckpoint(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	store, err := archive.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := archive.NewWriter(store, 0, clock.RealClock{}).KeepCosigned(context.Background(), "incident-operator/council", 10, cosigned); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runOffline(t, args...); err != nil || !strings.Contains(out, "verified entries 0-9 of 10") {
		t.Fatalf("the witnessed archive does not verify: %v\n%s%s", err, out, errOut)
	}

	// The rewrite, signed with the log key: the witness refuses it.
	rewritten, log := writeArchivedLog(t, signer, 12, 1, "Closed")
	proof, err := log.ProveConsistency(10, 12)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := witness.Submit(context.Background(), srv.Client(), srv.URL, 10, proof, newestCheckpoint(t, rewritten)); err == nil {
		t.Fatal("the witness cosigned a rewritten log")
	}
	if evidence, _ := filepath.Glob(filepath.Join(state, "evidence", "*")); len(evidence) != 1 {
		t.Errorf("the witness kept %d pieces of evidence of the rewrite, want 1", len(evidence))
	}
	args[3] = rewritten
	if out, _, err := runOffline(t, args...); err == nil || !strings.Contains(out, "no checkpoint of incident-operator/council cosigned") {
		t.Errorf("the rewritten archive, with no cosigned checkpoint, verifies: %v\n%s", err, out)
	}
	// The administrator copies the earlier cosigned checkpoint in: the
	// rewrite does not extend it.
	copied, err := archive.NewDir(rewritten)
	if err != nil {
		t.Fatal(err)
	}
	if err := archive.NewWriter(copied, 0, clock.RealClock{}).KeepCosigned(context.Background(), "incident-operator/council", 10, cosigned); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runOffline(t, args...); err == nil || !strings.Contains(out, "BROKEN") {
		t.Errorf("the rewritten archive verifies against the checkpoint the witness cosigned: %v\n%s", err, out)
	}
}
