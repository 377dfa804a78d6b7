package witness

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/incidentops/incident-operator/internal/translog"
)

const testOrigin = "incidents.example.com/log/security"

var start = time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)

// seeded is a reader of one repeated byte: keys made from it are the same
// in every run.
func seeded(seed string) *strings.Reader { return strings.NewReader(strings.Repeat(seed, 64)) }

// logKey is a log's key pair, made from seed.
type logKey struct {
	signer   note.Signer
	verifier note.Verifier
}

func newLogKey(t testing.TB, origin, seed string) logKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(seeded(seed), origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return logKey{signer, verifier}
}

// testLog is a real translog log that signs a checkpoint with each batch.
type testLog struct {
	t   testing.TB
	log *translog.Log
	key logKey
}

func newTestLog(t testing.TB, origin string, key logKey) *testLog {
	return &testLog{t: t, log: translog.NewLog(origin, &translog.MemoryHashes{}), key: key}
}

// grow appends n entries whose action is action, and returns the signed
// checkpoint of the log after them. Two logs grown with the same actions
// hold the same entries; a log grown with other actions is a rewrite.
func (l *testLog) grow(n int, action string) []byte {
	l.t.Helper()
	entries := make([]translog.Entry, n)
	for i := range entries {
		at := l.log.Size() + int64(i)
		entries[i] = translog.Entry{
			Namespace: "security",
			Incident:  fmt.Sprintf("incident-%03d", at%3),
			UID:       fmt.Sprintf("0b5e1c2d-0000-4000-8000-%012d", at%3),
			Action:    action,
			Actor:     "analyst@example.com",
			Time:      start.Add(time.Duration(at) * time.Second),
		}
	}
	b, err := l.log.Next(entries, l.key.signer)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.log.Append(b); err != nil {
		l.t.Fatal(err)
	}
	return b.Checkpoint
}

// proofFrom proves that the log now extends the log at old.
func (l *testLog) proofFrom(old int64) tlog.TreeProof {
	l.t.Helper()
	p, err := l.log.ProveConsistency(old, l.log.Size())
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

// witnessKey is a witness's key pair, made from seed.
func witnessKey(t testing.TB, name, seed string) (skey, vkey string) {
	t.Helper()
	skey, vkey, err := GenerateKey(seeded(seed), name)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

// logBuffer keeps what a witness logs, for a test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testWitness is a witness served over real HTTP on loopback.
type testWitness struct {
	t        testing.TB
	dir      string
	clock    *clocktesting.FakePassiveClock
	witness  *Witness
	server   *httptest.Server
	verifier note.Verifier
	logs     *logBuffer
}

const testWitnessName = "witness.example.com/security-team"

// startWitness serves a witness for the logs, with its state in dir, its
// key from the seed "w" and its clock at start.
func startWitness(t testing.TB, dir string, logs ...Log) *testWitness {
	t.Helper()
	skey, vkey := witnessKey(t, testWitnessName, "w")
	clk := clocktesting.NewFakePassiveClock(start)
	cosigner, err := NewCosigner(skey, clk)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	buf := &logBuffer{}
	w, err := New(Config{Cosigner: cosigner, Logs: logs, StateDir: dir, Clock: clk, Logger: slog.New(slog.NewTextHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(w)
	t.Cleanup(server.Close)
	return &testWitness{t: t, dir: dir, clock: clk, witness: w, server: server, verifier: verifier, logs: buf}
}

// submit submits a checkpoint to the witness with Submit.
func (w *testWitness) submit(old int64, proof tlog.TreeProof, checkpoint []byte) ([]byte, error) {
	return Submit(context.Background(), w.server.Client(), w.server.URL, old, proof, checkpoint)
}

// mustSubmit submits a checkpoint that the witness must cosign.
func (w *testWitness) mustSubmit(old int64, proof tlog.TreeProof, checkpoint []byte) []byte {
	w.t.Helper()
	cosigned, err := w.submit(old, proof, checkpoint)
	if err != nil {
		w.t.Fatalf("submitting a checkpoint from size %d: %v", old, err)
	}
	return cosigned
}

// witnessedLog is a log with the key made from "L", and a witness for it
// with its state in a new directory.
func witnessedLog(t testing.TB) (logKey, *testLog, *testWitness) {
	t.Helper()
	key := newLogKey(t, testOrigin, "L")
	return key, newTestLog(t, testOrigin, key), startWitness(t, t.TempDir(), Log{Origin: testOrigin, Verifiers: []note.Verifier{key.verifier}})
}

// cosignedSize is the size the witness last cosigned for origin.
func (w *testWitness) cosignedSize(origin string) int64 {
	w.t.Helper()
	c, ok := w.witness.Cosigned(origin)
	if !ok {
		w.t.Fatalf("the witness does not know %s", origin)
	}
	return c.Size
}
