package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/incidentops/incident-operator/internal/translog"
)

// store keeps the witness's state in a directory: for each log, the signed
// checkpoint it cosigned last, in <origin hash>.checkpoint exactly as the
// log submitted it; and under evidence/, the requests it refused though the
// log's key had signed them.
type store struct {
	dir string
}

// originHash names a log's files: the first 8 bytes of the SHA-256 of its
// origin, in hex. Origins are URLs, not file names.
func originHash(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(sum[:8])
}

func (s store) checkpointPath(origin string) string {
	return filepath.Join(s.dir, originHash(origin)+".checkpoint")
}

// load reads the checkpoint last cosigned for origin, and the signed note
// it came in; a zero checkpoint of size 0 when the witness has cosigned
// none. The signature is not checked again: the file is the witness's own
// record, and the log may have changed its key since.
func (s store) load(origin string) (translog.Checkpoint, []byte, error) {
	path := s.checkpointPath(origin)
	msg, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return translog.Checkpoint{Origin: origin}, nil, nil
	}
	if err != nil {
		return translog.Checkpoint{}, nil, err
	}
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return translog.Checkpoint{}, nil, fmt.Errorf("%s is not a signed checkpoint", path)
	}
	c, err := translog.ParseCheckpoint(msg[:i+1])
	if err != nil {
		return c, nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Origin != origin {
		return c, nil, fmt.Errorf("%s holds a checkpoint of %q, not of %q", path, c.Origin, origin)
	}
	return c, msg, nil
}

// save records msg as the checkpoint last cosigned for origin. It returns
// once the file is on disk under its name: written to a temporary file,
// synced, renamed over the old one, and the directory synced, so that a
// crash leaves the old checkpoint or the new one, never a part of either.
func (s store) save(origin string, msg []byte) error {
	return writeFileAtomic(s.checkpointPath(origin), msg)
}

// evidence is what the witness keeps of a request it refused although the
// log's key signed the checkpoint in it: a sign that the log was rewritten
// or shows two histories (a fork). When the sizes are equal, the two
// signed checkpoints are proof of it on their own; otherwise the log's
// entries show whether the proof or the log is at fault.
type evidence struct {
	Origin string    `json:"origin"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	// Cosigned is the checkpoint the witness had cosigned last, as the log
	// signed it.
	Cosigned string `json:"cosigned"`
	// Request is the add-checkpoint request as it came: old size, proof
	// and the signed checkpoint.
	Request string `json:"request"`
}

// keepEvidence writes e to evidence/<origin hash>-<unix time>-<size>-<digest>.json
// and returns its path. The digest is of the submitted checkpoint, so that
// the same refused checkpoint sent again is kept once: anyone may resend a
// log's signed checkpoints, but only the log's key can make new ones.
func (s store) keepEvidence(e evidence, size int64, checkpoint []byte) (string, error) {
	dir := filepath.Join(s.dir, "evidence")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	sum := sha256.Sum256(checkpoint)
	digest := hex.EncodeToString(sum[:6])
	kept, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("%s-*-%d-%s.json", originHash(e.Origin), size, digest)))
	if err != nil {
		return "", err
	}
	if len(kept) > 0 {
		return kept[0], nil
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d-%d-%s.json", originHash(e.Origin), e.Time.Unix(), size, digest))
	return path, writeFileAtomic(path, append(data, '\n'))
}

// writeFileAtomic puts data at path so that path holds either its old
// content or all of data, also after a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails once renamed, as it should
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
