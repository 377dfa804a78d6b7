// Package witness is a transparency-log witness: a server that another team
// runs, which cosigns a log's checkpoint only if it extends the last one it
// cosigned for that log. Whoever holds a log's key can rewrite the log and
// sign it again; they cannot make the witness cosign the rewrite, so a
// verifier that asks for the witness's cosignature (VerifyCosigned) is not
// shown a rewritten log.
//
// The server speaks the C2SP tlog-witness protocol (c2sp.org/tlog-witness,
// POST /add-checkpoint) and signs C2SP cosignature/v1 cosignatures with
// Ed25519 (c2sp.org/tlog-cosignature). Logs are the operator's
// per-namespace logs (internal/translog), or any log of C2SP checkpoints.
// Submit is the client.
//
// The witness keeps, in a directory, the last checkpoint it cosigned for each
// log, and the requests it refused although the log's key signed them: the
// evidence of a rewrite. It imports no Kubernetes client; its clock is
// injected.
package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"k8s.io/utils/clock"

	"github.com/incidentops/incident-operator/internal/translog"
)

// Log is a log the witness cosigns for.
type Log struct {
	// Origin names the log: the first line of its checkpoints. An origin
	// ending in "/*" stands for every log named by its prefix and one more
	// segment, such as the operator's logs of each namespace
	// (incident-operator/*): each is a log of its own to the witness.
	Origin string
	// Verifiers are the log's public keys. A checkpoint needs a valid
	// signature by one of them; signatures by other keys are ignored.
	Verifiers []note.Verifier
}

// Config is what a witness is made of.
type Config struct {
	// Cosigner is the witness's key.
	Cosigner *Cosigner
	// Logs are the logs the witness cosigns for; it answers 404 for others.
	Logs []Log
	// StateDir holds the last checkpoint cosigned for each log, and the
	// evidence of refused checkpoints. It must survive restarts: a witness
	// that lost it would cosign a rewritten log as if new.
	StateDir string
	// Clock dates evidence; the cosigner has its own. Nil is the real clock.
	Clock clock.PassiveClock
	// Logger says what the witness cosigned and refused. Nil is slog's
	// default.
	Logger *slog.Logger
}

// Witness cosigns checkpoints that extend the ones it cosigned before. It
// is an http.Handler serving POST /add-checkpoint.
type Witness struct {
	cosigner *Cosigner
	store    store
	clock    clock.PassiveClock
	logger   *slog.Logger
	mux      *http.ServeMux

	// mu guards logs, to which a log named by a prefix in prefixes is
	// added when first submitted.
	mu       sync.Mutex
	logs     map[string]*logState
	prefixes []Log
}

// logState is one log: its keys, and the checkpoint last cosigned for it,
// which mu guards. Checking a request against it and recording the next
// one happen under mu, so that two requests from the same size cannot both
// advance the log.
type logState struct {
	origin    string
	verifiers note.Verifiers

	mu       sync.Mutex
	cosigned translog.Checkpoint
	signed   []byte // cosigned, as the log signed it; nil before the first
}

// New is a witness for cfg.Logs that resumes from the checkpoints recorded
// in cfg.StateDir.
func New(cfg Config) (*Witness, error) {
	if cfg.Cosigner == nil {
		return nil, errors.New("a witness needs its key")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("a witness needs a state directory")
	}
	if info, err := os.Stat(cfg.StateDir); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("state directory %s is not a directory", cfg.StateDir)
	}
	w := &Witness{
		cosigner: cfg.Cosigner,
		store:    store{dir: cfg.StateDir},
		clock:    cfg.Clock,
		logger:   cfg.Logger,
		logs:     map[string]*logState{},
	}
	if w.clock == nil {
		w.clock = clock.RealClock{}
	}
	if w.logger == nil {
		w.logger = slog.Default()
	}
	for _, l := range cfg.Logs {
		if err := checkLog(l); err != nil {
			return nil, err
		}
		if _, ok := w.logs[l.Origin]; ok || slices.ContainsFunc(w.prefixes, func(p Log) bool { return p.Origin == l.Origin }) {
			return nil, fmt.Errorf("log %s is configured twice", l.Origin)
		}
		if strings.HasSuffix(l.Origin, "/*") {
			w.prefixes = append(w.prefixes, l)
			continue
		}
		cosigned, signed, err := w.store.load(l.Origin)
		if err != nil {
			return nil, fmt.Errorf("reading the state of log %s: %w", l.Origin, err)
		}
		w.logs[l.Origin] = &logState{origin: l.Origin, verifiers: note.VerifierList(l.Verifiers...), cosigned: cosigned, signed: signed}
	}
	w.mux = http.NewServeMux()
	w.mux.HandleFunc("POST /add-checkpoint", w.serveAddCheckpoint)
	return w, nil
}

// logFor is the state of the log named origin: one configured by name, or
// one a prefix names, read from the state directory when first asked for;
// nil when the witness does not know it.
func (w *Witness) logFor(origin string) (*logState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if l, ok := w.logs[origin]; ok {
		return l, nil
	}
	for _, p := range w.prefixes {
		rest, ok := strings.CutPrefix(origin, strings.TrimSuffix(p.Origin, "*"))
		if !ok || rest == "" || strings.ContainsAny(rest, "/\n") {
			continue
		}
		cosigned, signed, err := w.store.load(origin)
		if err != nil {
			return nil, fmt.Errorf("reading the state of log %s: %w", origin, err)
		}
		l := &logState{origin: origin, verifiers: note.VerifierList(p.Verifiers...), cosigned: cosigned, signed: signed}
		w.logs[origin] = l
		return l, nil
	}
	return nil, nil
}

// checkLog checks a log's configuration: one origin line, and at least one
// key, none twice (note.Open cannot tell two equal keys apart).
func checkLog(l Log) error {
	if l.Origin == "" || strings.Contains(l.Origin, "\n") {
		return fmt.Errorf("log origin %q must be one non-empty line", l.Origin)
	}
	if len(l.Verifiers) == 0 {
		return fmt.Errorf("log %s has no key", l.Origin)
	}
	keys := map[keyID]bool{}
	for _, v := range l.Verifiers {
		if keys[keyOf(v)] {
			return fmt.Errorf("log %s has the key %s twice", l.Origin, keyOf(v))
		}
		keys[keyOf(v)] = true
	}
	return nil
}

// ServeHTTP serves the witness protocol.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

// Cosigned is the checkpoint last cosigned for origin (size 0 before the
// first), and whether the witness knows the log.
func (w *Witness) Cosigned(origin string) (translog.Checkpoint, bool) {
	l, err := w.logFor(origin)
	if err != nil || l == nil {
		return translog.Checkpoint{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cosigned, true
}

// refusal is a request the witness does not cosign, with the status the
// protocol gives it.
type refusal struct {
	status int
	reason string
	// evidence says that the log's key signed a checkpoint that does not
	// extend the one cosigned: the request is kept.
	evidence bool
}

func (r *refusal) Error() string { return r.reason }

// staleOldSize is a request whose old size is not the size of the
// checkpoint cosigned last: a 409 that says that size.
type staleOldSize struct {
	origin        string
	old, cosigned int64
}

func (s *staleOldSize) Error() string {
	return fmt.Sprintf("the witness cosigned log %s at size %d, not %d", s.origin, s.cosigned, s.old)
}

func refuse(status int, format string, args ...any) *refusal {
	return &refusal{status: status, reason: fmt.Sprintf(format, args...)}
}

// add checks a request and, if it extends what the witness cosigned, records
// its checkpoint and returns the witness's cosignature line. The checks run
// in the order the protocol gives: the request reads (400), the log is
// known (404), its key signed the checkpoint (403), the old size is no
// larger than the checkpoint's (400) and is the size cosigned (409 with
// that size), a checkpoint of the size cosigned has its root (409), and the
// proof verifies (422).
func (w *Witness) add(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parseAddRequest(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	origin, _, _ := bytes.Cut(req.Checkpoint, []byte{'\n'})
	l, err := w.logFor(string(origin))
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, refuse(http.StatusNotFound, "the witness does not know the log %q", truncate(origin))
	}
	n, err := note.Open(req.Checkpoint, l.verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return nil, refuse(http.StatusForbidden, "the checkpoint has no valid signature by a key of log %s", l.origin)
		}
		return nil, refuse(http.StatusBadRequest, "the checkpoint is not a signed note: %v", err)
	}
	c, err := translog.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	if req.OldSize > c.Size {
		return nil, refuse(http.StatusBadRequest, "the old size %d is larger than the checkpoint's %d", req.OldSize, c.Size)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if req.OldSize != l.cosigned.Size {
		return nil, &staleOldSize{origin: l.origin, old: req.OldSize, cosigned: l.cosigned.Size}
	}
	if r := l.extends(req.Proof, c); r != nil {
		if r.evidence {
			w.keepEvidence(ctx, l, r, c, req.Checkpoint, body)
		}
		return nil, r
	}
	if l.signed == nil || c.Size > l.cosigned.Size {
		if err := w.store.save(l.origin, req.Checkpoint); err != nil {
			return nil, fmt.Errorf("recording the checkpoint of %s at size %d: %w", l.origin, c.Size, err)
		}
		l.cosigned, l.signed = c, bytes.Clone(req.Checkpoint)
	}
	signed, err := note.Sign(&note.Note{Text: n.Text}, w.cosigner)
	if err != nil {
		return nil, fmt.Errorf("cosigning %s: %w", c, err)
	}
	w.logger.InfoContext(ctx, "cosigned checkpoint", "origin", l.origin, "size", c.Size, "old", req.OldSize)
	return signed[len(n.Text)+1:], nil
}

// extends checks that c, with proof from the checkpoint cosigned last,
// extends it. A checkpoint that does not, but that the log's key signed,
// is the log showing another history than the one cosigned: the refusal
// says to keep it as evidence. l.mu is held.
func (l *logState) extends(proof tlog.TreeProof, c translog.Checkpoint) *refusal {
	switch {
	case l.signed == nil:
		return nil // the first checkpoint of a log; the old size, 0, needs no proof
	case c.Size == l.cosigned.Size && c.Root != l.cosigned.Root:
		r := refuse(http.StatusConflict, "the checkpoint of log %s at size %d has another root than the one the witness cosigned at that size: the log shows two histories", l.origin, c.Size)
		r.evidence = true
		return r
	case c.Size == l.cosigned.Size && len(proof) > 0:
		return refuse(http.StatusUnprocessableEntity, "the consistency proof between two checkpoints of size %d must be empty", c.Size)
	}
	if err := translog.CheckConsistency(proof, l.cosigned, c); err != nil {
		r := refuse(http.StatusUnprocessableEntity, "the consistency proof does not show that the checkpoint of log %s at size %d extends the one the witness cosigned at size %d", l.origin, c.Size, l.cosigned.Size)
		r.evidence = true
		return r
	}
	return nil
}

// keepEvidence records a refused request whose checkpoint the log's key
// signed. It cannot fail the request: the refusal is the answer either way,
// and a failure to record it is logged.
func (w *Witness) keepEvidence(ctx context.Context, l *logState, r *refusal, c translog.Checkpoint, signed, body []byte) {
	e := evidence{Origin: l.origin, Time: w.clock.Now().UTC(), Reason: r.reason, Cosigned: string(l.signed), Request: string(body)}
	path, err := w.store.keepEvidence(e, c.Size, signed)
	if err != nil {
		w.logger.ErrorContext(ctx, "cannot keep the evidence of a refused checkpoint", "origin", l.origin, "size", c.Size, "cosignedSize", l.cosigned.Size, "reason", r.reason, "error", err)
		return
	}
	w.logger.WarnContext(ctx, "refused a checkpoint the log's key signed: the log may have been rewritten", "origin", l.origin, "size", c.Size, "cosignedSize", l.cosigned.Size, "reason", r.reason, "evidence", path)
}
