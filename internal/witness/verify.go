package witness

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/incidentops/incident-operator/internal/translog"
)

// VerifyCosigned checks a cosigned checkpoint, as Submit returns it: a
// checkpoint of the log named origin, signed by the log's key, and cosigned
// by at least required of witnesses (verifiers from NewVerifier). Other
// signatures are ignored. A checkpoint that passes is one the witnesses saw
// extend every checkpoint they cosigned before, so a log rewritten after
// they cosigned cannot show it.
func VerifyCosigned(msg []byte, origin string, logVerifier note.Verifier, witnesses []note.Verifier, required int) (translog.Checkpoint, error) {
	if logVerifier == nil {
		return translog.Checkpoint{}, errors.New("verifying a cosigned checkpoint needs the log's key")
	}
	if required < 1 || required > len(witnesses) {
		return translog.Checkpoint{}, fmt.Errorf("cannot require %d cosignatures of %d witness keys", required, len(witnesses))
	}
	logKey := keyOf(logVerifier)
	known := map[keyID]bool{logKey: true}
	for _, v := range witnesses {
		k := keyOf(v)
		if known[k] {
			return translog.Checkpoint{}, fmt.Errorf("key %s is given twice, or as both the log's and a witness's", k)
		}
		known[k] = true
	}
	n, err := note.Open(msg, note.VerifierList(append([]note.Verifier{logVerifier}, witnesses...)...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return translog.Checkpoint{}, fmt.Errorf("the checkpoint is signed neither by the log key %s nor by a witness", logKey)
		}
		var invalid *note.InvalidSignatureError
		if errors.As(err, &invalid) {
			return translog.Checkpoint{}, fmt.Errorf("the signature by %s does not verify: the checkpoint was changed after it was signed", keyID{invalid.Name, invalid.Hash})
		}
		return translog.Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	var logSigned bool
	var cosigned int
	for _, sig := range n.Sigs {
		if (keyID{sig.Name, sig.Hash}) == logKey {
			logSigned = true
		} else {
			cosigned++ // note.Open keeps one signature per key
		}
	}
	if !logSigned {
		return translog.Checkpoint{}, fmt.Errorf("the checkpoint is not signed by the log key %s", logKey)
	}
	if cosigned < required {
		return translog.Checkpoint{}, fmt.Errorf("the checkpoint has %d valid cosignatures by the witnesses, %d are required", cosigned, required)
	}
	c, err := translog.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return c, err
	}
	if c.Origin != origin {
		return c, fmt.Errorf("the checkpoint is of log %q, not %q", c.Origin, origin)
	}
	return c, nil
}

// keyID names a signed-note key: its name and key hash.
type keyID struct {
	name string
	hash uint32
}

func keyOf(v note.Verifier) keyID { return keyID{v.Name(), v.KeyHash()} }

func (k keyID) String() string { return fmt.Sprintf("%s+%08x", k.name, k.hash) }
