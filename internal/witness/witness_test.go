package witness

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestCosignsFirstCheckpointAndExtensions(t *testing.T) {
	key, log, w := witnessedLog(t)

	var old int64
	for i, n := range []int{3, 1, 7, 16} {
		checkpoint := log.grow(n, "Reported")
		cosigned, err := w.submit(old, log.proofFrom(old), checkpoint)
		if err != nil {
			t.Fatalf("extension %d to size %d: %v", i, log.log.Size(), err)
		}
		if !bytes.HasPrefix(cosigned, checkpoint) {
			t.Fatalf("the cosigned note does not begin with the submitted checkpoint:\n%s", cosigned)
		}
		c, err := VerifyCosigned(cosigned, testOrigin, key.verifier, []note.Verifier{w.verifier}, 1)
		if err != nil {
			t.Fatalf("extension %d: %v\n%s", i, err, cosigned)
		}
		if c.Size != log.log.Size() {
			t.Errorf("extension %d: cosigned size %d, want %d", i, c.Size, log.log.Size())
		}
		if got := w.cosignedSize(testOrigin); got != log.log.Size() {
			t.Errorf("extension %d: the witness records size %d, want %d", i, got, log.log.Size())
		}
		old = log.log.Size()
	}

	// The same checkpoint again, from its own size, is cosigned again.
	checkpoint, _ := os.ReadFile(filepath.Join(w.dir, originHash(testOrigin)+".checkpoint"))
	if _, err := w.submit(old, nil, checkpoint); err != nil {
		t.Errorf("the checkpoint cosigned last, submitted again: %v", err)
	}
	if strings.Contains(w.logs.String(), "level=WARN") {
		t.Errorf("an honest log made the witness warn:\n%s", w.logs)
	}
}

func TestConflictSaysTheSizeCosigned(t *testing.T) {
	_, log, w := witnessedLog(t)
	w.mustSubmit(0, nil, log.grow(5, "Reported"))
	checkpoint := log.grow(4, "Routed")

	// As the protocol says, on the wire.
	resp, err := w.server.Client().Post(w.server.URL+"/add-checkpoint", "text/plain", bytes.NewReader(addRequest{OldSize: 0, Checkpoint: checkpoint}.marshal()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Content-Type") != "text/x.tlog.size" || string(body) != "5\n" {
		t.Fatalf("stale old size: got %d %q %q, want 409 text/x.tlog.size \"5\\n\"", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// As Submit reads it: the caller proves from the witness's size, and
	// the retry is cosigned.
	for _, old := range []int64{0, 2, 9} {
		_, err := w.submit(old, log.proofFrom(old), checkpoint)
		var conflict *ConflictError
		if !errors.As(err, &conflict) || conflict.Size != 5 {
			t.Fatalf("old size %d: got %v, want a *ConflictError at size 5", old, err)
		}
	}
	var conflict *ConflictError
	_, err = w.submit(0, nil, checkpoint)
	errors.As(err, &conflict)
	if _, err := w.submit(conflict.Size, log.proofFrom(conflict.Size), checkpoint); err != nil {
		t.Fatalf("proving from the size the witness gave: %v", err)
	}
	if got := w.cosignedSize(testOrigin); got != 9 {
		t.Errorf("the witness records size %d, want 9", got)
	}
}

// evidenceFiles are the evidence the witness kept in dir.
func evidenceFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "evidence", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// readEvidence reads the one evidence file in dir, and checks its name: the
// log's origin hash, the time and the refused checkpoint's size.
func readEvidence(t *testing.T, dir string, size int64) evidence {
	t.Helper()
	files := evidenceFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("the witness kept %d evidence files, want 1: %q", len(files), files)
	}
	name := regexp.MustCompile(`^` + originHash(testOrigin) + `-(\d+)-(\d+)-[0-9a-f]{12}\.json$`)
	m := name.FindStringSubmatch(filepath.Base(files[0]))
	if m == nil || m[1] != strconv.FormatInt(start.Unix(), 10) || m[2] != strconv.FormatInt(size, 10) {
		t.Errorf("evidence file %s: want <origin hash>-<time %d>-<size %d>-<digest>.json", filepath.Base(files[0]), start.Unix(), size)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var e evidence
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("evidence %s: %v", files[0], err)
	}
	return e
}

// TestRefusesARewrittenLog is the witness's reason to exist: whoever holds
// the log's key rewrites the log and signs it again; the witness does not
// cosign the rewrite, and keeps the request as evidence.
func TestRefusesARewrittenLog(t *testing.T) {
	key, honest, w := witnessedLog(t)
	honest.grow(4, "Reported")
	cosignedCheckpoint := honest.grow(4, "Routed")
	w.mustSubmit(0, nil, cosignedCheckpoint)

	// The rewrite keeps the first batch, changes the second and grows
	// past the size cosigned: its proof from 8 is a real proof of the
	// rewritten tree, which the witness's root at 8 refutes.
	rewritten := newTestLog(t, testOrigin, key)
	rewritten.grow(4, "Reported")
	rewritten.grow(4, "Dismissed")
	forked := rewritten.grow(3, "Resolved")
	request := addRequest{OldSize: 8, Proof: rewritten.proofFrom(8), Checkpoint: forked}
	_, err := w.submit(8, request.Proof, forked)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Status != http.StatusUnprocessableEntity {
		t.Fatalf("the rewritten log at size 11: got %v, want a *RefusedError with 422", err)
	}
	if got := w.cosignedSize(testOrigin); got != 8 {
		t.Errorf("after the refusal the witness records size %d, want 8", got)
	}
	e := readEvidence(t, w.dir, 11)
	if e.Origin != testOrigin || e.Request != string(request.marshal()) || e.Cosigned != string(cosignedCheckpoint) || !e.Time.Equal(start) {
		t.Errorf("evidence = %+v, want the request, the checkpoint cosigned at 8 and the time", e)
	}
	if !strings.Contains(w.logs.String(), `level=WARN msg="refused a checkpoint the log's key signed: the log may have been rewritten"`) {
		t.Errorf("the witness did not log the refusal:\n%s", w.logs)
	}

	// The same refused checkpoint sent again, later, is kept once.
	w.clock.SetTime(start.Add(time.Hour))
	if _, err := w.submit(8, request.Proof, forked); !errors.As(err, &refused) {
		t.Fatalf("the rewrite again: got %v, want a *RefusedError", err)
	}
	if files := evidenceFiles(t, w.dir); len(files) != 1 {
		t.Errorf("the same rewrite sent twice left %d evidence files, want 1", len(files))
	}

	// A rewrite that cut the log shorter cannot be proved to extend the
	// size cosigned, and is never cosigned.
	shorter := newTestLog(t, testOrigin, key)
	shorter.grow(4, "Reported")
	cut := shorter.grow(2, "Dismissed")
	if _, err := w.submit(0, nil, cut); !errors.As(err, new(*ConflictError)) {
		t.Errorf("the shorter rewrite from 0: got %v, want a *ConflictError", err)
	}
	var status *StatusError
	if _, err := w.submit(8, nil, cut); !errors.As(err, &status) || status.Status != http.StatusBadRequest {
		t.Errorf("the shorter rewrite as extending 8: got %v, want a *StatusError with 400", err)
	}

	// The honest log goes on being cosigned.
	next := honest.grow(5, "Acknowledged")
	if _, err := w.submit(8, honest.proofFrom(8), next); err != nil {
		t.Fatalf("the honest log after the rewrite was refused: %v", err)
	}
}

func TestRefusesTheSameSizeWithAnotherRoot(t *testing.T) {
	key, honest, w := witnessedLog(t)
	cosignedCheckpoint := honest.grow(6, "Reported")
	w.mustSubmit(0, nil, cosignedCheckpoint)

	rewritten := newTestLog(t, testOrigin, key)
	forked := rewritten.grow(6, "Dismissed")
	_, err := w.submit(6, nil, forked)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Status != http.StatusConflict {
		t.Fatalf("another root at size 6: got %v, want a *RefusedError with 409 (not a size conflict)", err)
	}
	e := readEvidence(t, w.dir, 6)
	if e.Cosigned != string(cosignedCheckpoint) || !strings.HasSuffix(e.Request, string(forked)) {
		t.Errorf("the evidence does not hold both signed checkpoints of size 6: %+v", e)
	}
	if got, _ := w.witness.Cosigned(testOrigin); got.Size != 6 || string(got.Text()) != string(cosignedCheckpoint[:len(got.Text())]) {
		t.Errorf("after the refusal the witness records %v, want the first checkpoint at 6", got)
	}
}

func TestRefusesABadProof(t *testing.T) {
	_, log, w := witnessedLog(t)
	w.mustSubmit(0, nil, log.grow(5, "Reported"))
	checkpoint := log.grow(6, "Routed")
	proof := log.proofFrom(5)

	changed := slices.Clone(proof)
	changed[0][0] ^= 1
	tests := map[string]tlog.TreeProof{
		"a changed hash":  changed,
		"a hash missing":  proof[:len(proof)-1],
		"a hash too many": append(slices.Clone(proof), proof[0]),
		"no proof":        nil,
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := w.submit(5, p, checkpoint)
			var refused *RefusedError
			if !errors.As(err, &refused) || refused.Status != http.StatusUnprocessableEntity {
				t.Fatalf("got %v, want a *RefusedError with 422", err)
			}
			if got := w.cosignedSize(testOrigin); got != 5 {
				t.Errorf("the witness records size %d, want 5", got)
			}
		})
	}
	if _, err := w.submit(5, proof, checkpoint); err != nil {
		t.Fatalf("the right proof after the bad ones: %v", err)
	}
}

func TestRefusesUnknownLogsAndKeys(t *testing.T) {
	key, _, w := witnessedLog(t)

	const otherOrigin = "incidents.example.com/log/finance"
	other := newTestLog(t, otherOrigin, newLogKey(t, otherOrigin, "F"))
	forged := newTestLog(t, testOrigin, newLogKey(t, testOrigin, "X")) // the log's name, another key
	unsigned := []byte(string(translogText(t, newTestLog(t, testOrigin, key).grow(1, "Reported"))) + "\n")
	tests := map[string]struct {
		checkpoint []byte
		status     int
	}{
		"a log the witness does not know": {other.grow(2, "Reported"), http.StatusNotFound},
		"signed by another key":           {forged.grow(2, "Reported"), http.StatusForbidden},
		"signed by no one":                {unsigned, http.StatusBadRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := w.submit(0, nil, tc.checkpoint)
			var status *StatusError
			if !errors.As(err, &status) || status.Status != tc.status {
				t.Fatalf("got %v, want a *StatusError with %d", err, tc.status)
			}
		})
	}
	if got := w.cosignedSize(testOrigin); got != 0 {
		t.Errorf("the witness records size %d, want 0", got)
	}
	if files := evidenceFiles(t, w.dir); len(files) != 0 {
		t.Errorf("checkpoints the log's key did not sign left evidence: %q", files)
	}
}

// translogText is a signed checkpoint's body.
func translogText(t *testing.T, signed []byte) []byte {
	t.Helper()
	text, _, ok := bytes.Cut(signed, []byte("\n\n"))
	if !ok {
		t.Fatalf("%q is not a signed note", signed)
	}
	return append(text, '\n')
}

func TestStateSurvivesARestart(t *testing.T) {
	key := newLogKey(t, testOrigin, "L")
	log := newTestLog(t, testOrigin, key)
	dir := t.TempDir()
	logs := Log{Origin: testOrigin, Verifiers: []note.Verifier{key.verifier}}
	first := startWitness(t, dir, logs)
	first.mustSubmit(0, nil, log.grow(7, "Reported"))
	first.server.Close()

	// A new witness on the same directory: it knows size 7, and refuses a
	// rewrite of it as the first one would have.
	second := startWitness(t, dir, logs)
	if got := second.cosignedSize(testOrigin); got != 7 {
		t.Fatalf("after the restart the witness records size %d, want 7", got)
	}
	var conflict *ConflictError
	if _, err := second.submit(0, nil, log.grow(2, "Routed")); !errors.As(err, &conflict) || conflict.Size != 7 {
		t.Fatalf("old size 0 after the restart: got %v, want a *ConflictError at size 7", err)
	}
	rewritten := newTestLog(t, testOrigin, key)
	rewritten.grow(7, "Dismissed")
	forked := rewritten.grow(2, "Routed")
	if _, err := second.submit(7, rewritten.proofFrom(7), forked); !errors.As(err, new(*RefusedError)) {
		t.Fatalf("a rewrite after the restart: got %v, want a *RefusedError", err)
	}
	next := log.grow(1, "Resolved")
	if _, err := second.submit(7, log.proofFrom(7), next); err != nil {
		t.Fatalf("the log's next checkpoint after the restart: %v", err)
	}

	// No temporary file is left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file is left in the state directory: %s", e.Name())
		}
	}
}

// TestConcurrentSubmissionsFromOneSize sends checkpoints of several sizes,
// each with a valid proof from the same size, at once, in several rounds:
// the witness checks the old size and records the new one as one step, so
// in each round exactly one is cosigned and the others are told the size
// it recorded.
func TestConcurrentSubmissionsFromOneSize(t *testing.T) {
	_, log, w := witnessedLog(t)
	w.mustSubmit(0, nil, log.grow(4, "Reported"))
	for round := range 6 {
		old := w.cosignedSize(testOrigin)
		var checkpoints [][]byte
		var proofs []tlog.TreeProof
		var sizes []int64
		for range 8 {
			checkpoints = append(checkpoints, log.grow(1, "Routed"))
			proofs = append(proofs, log.proofFrom(old))
			sizes = append(sizes, log.log.Size())
		}

		errs := make([]error, len(checkpoints))
		var ready, done sync.WaitGroup
		release := make(chan struct{})
		for i := range checkpoints {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-release
				_, errs[i] = w.submit(old, proofs[i], checkpoints[i])
			}()
		}
		ready.Wait()
		close(release)
		done.Wait()

		var won []int
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, i)
			case !errors.As(err, new(*ConflictError)):
				t.Errorf("round %d, submission %d: %v, want a cosignature or a *ConflictError", round, i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d submissions from size %d were cosigned, want exactly 1", round, len(won), old)
		}
		want := sizes[won[0]]
		if got := w.cosignedSize(testOrigin); got != want {
			t.Errorf("round %d: the witness records size %d, want %d, the winner's", round, got, want)
		}
		for i, err := range errs {
			var conflict *ConflictError
			if errors.As(err, &conflict) && conflict.Size != want {
				t.Errorf("round %d: submission %d was told size %d, want %d", round, i, conflict.Size, want)
			}
		}
	}
}

func TestNewRefuses(t *testing.T) {
	key := newLogKey(t, testOrigin, "L")
	other := newLogKey(t, testOrigin, "M")
	skey, _ := witnessKey(t, testWitnessName, "w")
	cosigner, err := NewCosigner(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, originHash(testOrigin)+".checkpoint"), []byte("half a checkp"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := Log{Origin: testOrigin, Verifiers: []note.Verifier{key.verifier}}
	tests := map[string]struct {
		cfg  Config
		want string
	}{
		"no key":              {Config{Logs: []Log{log}, StateDir: t.TempDir()}, "needs its key"},
		"no state directory":  {Config{Cosigner: cosigner, Logs: []Log{log}}, "needs a state directory"},
		"a missing directory": {Config{Cosigner: cosigner, Logs: []Log{log}, StateDir: filepath.Join(t.TempDir(), "none")}, "no such file"},
		"a log twice":         {Config{Cosigner: cosigner, Logs: []Log{log, {Origin: testOrigin, Verifiers: []note.Verifier{other.verifier}}}, StateDir: t.TempDir()}, "configured twice"},
		"a log without a key": {Config{Cosigner: cosigner, Logs: []Log{{Origin: testOrigin}}, StateDir: t.TempDir()}, "has no key"},
		"a key twice":         {Config{Cosigner: cosigner, Logs: []Log{{Origin: testOrigin, Verifiers: []note.Verifier{key.verifier, key.verifier}}}, StateDir: t.TempDir()}, "twice"},
		"two lines of origin": {Config{Cosigner: cosigner, Logs: []Log{{Origin: "a\nb", Verifiers: []note.Verifier{key.verifier}}}, StateDir: t.TempDir()}, "one non-empty line"},
		"a corrupt state":     {Config{Cosigner: cosigner, Logs: []Log{log}, StateDir: corrupt}, "is not a signed checkpoint"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// A log configured as a prefix stands for each log one segment below it,
// such as the operator's log of each namespace: each is witnessed on its
// own, a rewrite of one is refused, and its state outlives a restart. A
// log two segments below, or outside the prefix, is unknown.
func TestLogsNamedByAPrefix(t *testing.T) {
	key := newLogKey(t, "incident-operator", "P")
	dir := t.TempDir()
	w := startWitness(t, dir, Log{Origin: "incident-operator/*", Verifiers: []note.Verifier{key.verifier}})
	council := newTestLog(t, "incident-operator/council", key)
	finance := newTestLog(t, "incident-operator/finance", key)
	w.mustSubmit(0, nil, council.grow(4, "Reported"))
	w.mustSubmit(0, nil, finance.grow(2, "Reported"))
	grown := council.grow(3, "Routed")
	w.mustSubmit(4, council.proofFrom(4), grown)
	if got := w.cosignedSize("incident-operator/council"); got != 7 {
		t.Errorf("council cosigned at %d, want 7", got)
	}
	if got := w.cosignedSize("incident-operator/finance"); got != 2 {
		t.Errorf("finance cosigned at %d, want 2", got)
	}
	rewritten := newTestLog(t, "incident-operator/council", key)
	rewritten.grow(4, "Reported")
	checkpoint := rewritten.grow(5, "Forged")
	if _, err := w.submit(7, rewritten.proofFrom(7), checkpoint); err == nil {
		t.Error("a rewrite of one namespace's log was cosigned")
	}
	for _, origin := range []string{"incident-operator/council/x", "incident-operator/", "other/council"} {
		other := newTestLog(t, origin, key)
		var refused *StatusError
		if _, err := w.submit(0, nil, other.grow(1, "Reported")); !errors.As(err, &refused) || refused.Status != http.StatusNotFound {
			t.Errorf("log %q: %v, want 404", origin, err)
		}
	}
	again := startWitness(t, dir, Log{Origin: "incident-operator/*", Verifiers: []note.Verifier{key.verifier}})
	if got := again.cosignedSize("incident-operator/council"); got != 7 {
		t.Errorf("after a restart council is cosigned at %d, want 7", got)
	}
}
