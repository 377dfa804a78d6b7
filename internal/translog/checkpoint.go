package translog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the log's state at one size, as the C2SP checkpoint format
// (c2sp.org/tlog-checkpoint) writes it in the body of a signed note:
//
//	<origin>
//	<size>
//	<root hash in base64>
type Checkpoint struct {
	// Origin names the log, as a schema-less URL: one per namespace.
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Text is the checkpoint's note body.
func (c Checkpoint) Text() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint reads a checkpoint's note body. Extension lines after the
// root hash are allowed, as the format says, and ignored.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var c Checkpoint
	if !bytes.HasSuffix(text, []byte{'\n'}) {
		return c, errors.New("checkpoint does not end with a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return c, fmt.Errorf("checkpoint has %d lines, want origin, size and root hash", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return c, fmt.Errorf("checkpoint line %d is empty", i+1)
		}
	}
	c.Origin = lines[0]
	var err error
	if c.Size, err = count("checkpoint size", lines[1]); err != nil {
		return c, err
	}
	if c.Root, err = parseHash(lines[2]); err != nil {
		return c, fmt.Errorf("checkpoint root: %w", err)
	}
	return c, nil
}

func (c Checkpoint) String() string {
	return fmt.Sprintf("checkpoint of %s at size %d", c.Origin, c.Size)
}

// SignCheckpoint signs c as a note. Ed25519 keys come from
// note.GenerateKey; their name should be the log's origin.
func SignCheckpoint(c Checkpoint, signer note.Signer) ([]byte, error) {
	if c.Origin == "" || strings.ContainsAny(c.Origin, "\n") {
		return nil, fmt.Errorf("checkpoint origin %q must be one non-empty line", c.Origin)
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Text())}, signer)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", c, err)
	}
	return msg, nil
}

// OpenCheckpoint checks that msg is a checkpoint of the log named origin,
// signed by verifier's key, and returns it. Only the public key is needed.
func OpenCheckpoint(msg []byte, origin string, verifier note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, fmt.Errorf("checkpoint is not signed by the log key %s+%08x", verifier.Name(), verifier.KeyHash())
		}
		var invalid *note.InvalidSignatureError
		if errors.As(err, &invalid) {
			return Checkpoint{}, fmt.Errorf("checkpoint was changed after the log key %s+%08x signed it", verifier.Name(), verifier.KeyHash())
		}
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return c, err
	}
	if c.Origin != origin {
		return c, fmt.Errorf("checkpoint is of log %q, not %q", c.Origin, origin)
	}
	return c, nil
}

// readCheckpoint reads a signed checkpoint without checking any signature,
// for a verification told not to check them.
func readCheckpoint(msg []byte) (Checkpoint, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return Checkpoint{}, errors.New("checkpoint: malformed note")
	}
	return ParseCheckpoint(msg[:i+1])
}

// CheckInclusion checks that line is the entry at index in the log that c
// describes, with a proof from Log.ProveInclusion at c's size.
func CheckInclusion(proof tlog.RecordProof, c Checkpoint, index int64, line []byte) error {
	if err := tlog.CheckRecord(proof, c.Size, c.Root, index, tlog.RecordHash(line)); err != nil {
		return fmt.Errorf("entry %d is not in the log at %s: %w", index, c, err)
	}
	return nil
}

// CheckConsistency checks that newer extends older: that the log newer
// describes begins with the log older describes, with a proof from
// Log.ProveConsistency. A log whose history was rewritten fails here.
func CheckConsistency(proof tlog.TreeProof, older, newer Checkpoint) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("checkpoints of two logs, %q and %q", older.Origin, newer.Origin)
	}
	if older.Size == 0 {
		return nil // every log extends the empty one
	}
	if err := tlog.CheckTree(proof, newer.Size, newer.Root, older.Size, older.Root); err != nil {
		return fmt.Errorf("%s does not extend the one at size %d: %w", newer, older.Size, err)
	}
	return nil
}

// VerifierKey is the public key text (name+hash+key) of a note signer key
// text (PRIVATE+KEY+name+hash+key), so that only the private key need be
// kept: the public one is derived from it whenever it is published.
func VerifierKey(signerKey string) (string, error) {
	parts := strings.SplitN(signerKey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a note signer key (PRIVATE+KEY+name+hash+key)")
	}
	name, hash, encoded := parts[2], parts[3], parts[4]
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("the note signer key does not hold an Ed25519 seed")
	}
	public := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey := name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, public...))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("the note signer key's hash does not match its key: %w", err)
	}
	return vkey, nil
}
