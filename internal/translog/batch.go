package translog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Batch is one group commit: the entries of everything reconciled in a
// short window, written as one object that is created once and never
// updated.
type Batch struct {
	// First is the index of the batch's first entry.
	First int64
	// Payload is the entries as JSON Lines: each line ends with a newline
	// and is the leaf the tree hashes, without it.
	Payload []byte
	// Previous is the hash of the batch before, zero for the first batch.
	Previous tlog.Hash
	// Root is the Merkle root of the whole log after this batch, whose size
	// is First plus the number of entries.
	Root tlog.Hash
	// Checkpoint is the signed note of the log at that size.
	Checkpoint []byte
}

// BatchName is the name of the batch that begins at index first: zero
// padded to the 19 digits of the largest int64, so that names sort as
// indexes do, and two writers that both believe they append at first
// collide on one name instead of forking the log.
func BatchName(first int64) string {
	return fmt.Sprintf("log-%019d", first)
}

// Name is BatchName of the batch's first index.
func (b *Batch) Name() string { return BatchName(b.First) }

// Len is the number of entries in the batch.
func (b *Batch) Len() int64 { return int64(bytes.Count(b.Payload, []byte{'\n'})) }

// End is the index after the batch's last entry: the log's size after it.
func (b *Batch) End() int64 { return b.First + b.Len() }

// Lines are the batch's entries, each without its newline.
func (b *Batch) Lines() ([][]byte, error) {
	return splitLines(b.Payload)
}

func splitLines(payload []byte) ([][]byte, error) {
	if len(payload) == 0 {
		return nil, errors.New("the batch holds no entries")
	}
	if payload[len(payload)-1] != '\n' {
		return nil, errors.New("the last entry does not end with a newline")
	}
	lines := make([][]byte, 0, bytes.Count(payload, []byte{'\n'}))
	for rest := payload; len(rest) > 0; {
		line, after, _ := bytes.Cut(rest, []byte{'\n'})
		if len(line) == 0 {
			return nil, fmt.Errorf("entry %d of the batch is empty", len(lines))
		}
		lines = append(lines, line)
		rest = after
	}
	return lines, nil
}

// batchTag begins what a batch's hash covers, so that the hash of a batch
// can never be the hash of anything else, and a later format hashes apart.
const batchTag = "incident-operator/translog/v1/batch\x00"

// Hash is what the next batch records as Previous. It covers the first
// index, the entries, the previous hash and the root. It leaves out the
// checkpoint: that is a signature over Root, checked on its own, and a copy
// of it in an archive may carry more signatures (a witness's cosignature)
// without the batch changing.
func (b *Batch) Hash() tlog.Hash {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(batchTag))
	binary.BigEndian.PutUint64(n[:], uint64(b.First))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(len(b.Payload)))
	h.Write(n[:])
	h.Write(b.Payload)
	h.Write(b.Previous[:])
	h.Write(b.Root[:])
	var sum tlog.Hash
	h.Sum(sum[:0])
	return sum
}

// batchHeader opens an encoded batch.
const batchHeader = "incident-operator translog batch v1\n"

// maxBatchBytes bounds what DecodeBatch accepts: well above what one
// Kubernetes object may hold (1.5 MiB in etcd).
const maxBatchBytes = 16 << 20

// Encode is the batch as stored in an archive: a short text header, then
// the checkpoint and the entries, whose lengths the header gives, so that
// the entries are kept byte for byte (no escaping) and decoding needs no
// delimiter inside them. The same batch always encodes to the same bytes.
//
//	incident-operator translog batch v1
//	first 128
//	entries 64 17003
//	previous <base64>
//	root <base64>
//	checkpoint 215
//	<checkpoint><entries>
func (b *Batch) Encode() []byte {
	var out bytes.Buffer
	out.Grow(len(batchHeader) + 200 + len(b.Checkpoint) + len(b.Payload))
	out.WriteString(batchHeader)
	fmt.Fprintf(&out, "first %d\n", b.First)
	fmt.Fprintf(&out, "entries %d %d\n", b.Len(), len(b.Payload))
	fmt.Fprintf(&out, "previous %s\n", base64.StdEncoding.EncodeToString(b.Previous[:]))
	fmt.Fprintf(&out, "root %s\n", base64.StdEncoding.EncodeToString(b.Root[:]))
	fmt.Fprintf(&out, "checkpoint %d\n", len(b.Checkpoint))
	out.Write(b.Checkpoint)
	out.Write(b.Payload)
	return out.Bytes()
}

// DecodeBatch reads what Encode wrote. It accepts only the bytes Encode
// would write for the batch it returns, so that one batch has one encoding.
// It checks the form, not the content: Verify does that.
func DecodeBatch(data []byte) (Batch, error) {
	var b Batch
	if len(data) > maxBatchBytes {
		return b, fmt.Errorf("batch of %d bytes, more than %d", len(data), maxBatchBytes)
	}
	rest, ok := bytes.CutPrefix(data, []byte(batchHeader))
	if !ok {
		return b, errors.New("not a log batch: it does not begin with " + strconv.Quote(batchHeader))
	}
	h := header{rest: rest}
	first := h.counts("first", 1)
	entries := h.counts("entries", 2)
	b.Previous = h.hash("previous")
	b.Root = h.hash("root")
	checkpoint := h.counts("checkpoint", 1)
	if h.err != nil {
		return b, h.err
	}
	rest = h.rest
	b.First = first[0]
	n, payloadLen, cpLen := entries[0], entries[1], checkpoint[0]
	if cpLen > int64(len(rest)) || payloadLen != int64(len(rest))-cpLen {
		return b, fmt.Errorf("batch body is %d bytes, the header gives %d and %d", len(rest), cpLen, payloadLen)
	}
	b.Checkpoint = bytes.Clone(rest[:cpLen])
	b.Payload = bytes.Clone(rest[cpLen:])
	lines, err := splitLines(b.Payload)
	if err != nil {
		return b, err
	}
	if int64(len(lines)) != n {
		return b, fmt.Errorf("batch holds %d entries, the header gives %d", len(lines), n)
	}
	if b.First > maxIndex-n {
		return b, fmt.Errorf("batch at %d of %d entries runs past the largest index", b.First, n)
	}
	return b, nil
}

// header reads an encoded batch's header lines, "name value...", keeping
// the first error.
type header struct {
	rest []byte
	err  error
}

func (h *header) values(name string, n int) []string {
	if h.err != nil {
		return nil
	}
	line, after, ok := bytes.Cut(h.rest, []byte{'\n'})
	if !ok {
		h.err = fmt.Errorf("batch header ends before %q", name)
		return nil
	}
	h.rest = after
	words := strings.Split(string(line), " ")
	if len(words) != n+1 || words[0] != name {
		h.err = fmt.Errorf("batch header line %q, want %q and %d values", line, name, n)
		return nil
	}
	return words[1:]
}

// counts reads n counts named name.
func (h *header) counts(name string, n int) []int64 {
	out := make([]int64, n)
	for i, v := range h.values(name, n) {
		if out[i], h.err = count(name, v); h.err != nil {
			return out
		}
	}
	return out
}

// hash reads a hash named name.
func (h *header) hash(name string) tlog.Hash {
	v := h.values(name, 1)
	if h.err != nil {
		return tlog.Hash{}
	}
	hash, err := parseHash(v[0])
	if err != nil {
		h.err = fmt.Errorf("batch %s hash: %w", name, err)
	}
	return hash
}

// maxIndex is the largest size a log may reach.
const maxIndex = 1<<63 - 1

// count reads a non-negative decimal without sign or leading zeros.
func count(what, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%s %q is not a count", what, s)
	}
	return n, nil
}

// parseHash reads a hash in standard base64, as checkpoints write it, and
// only in its one canonical form.
func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != len(h) || base64.StdEncoding.EncodeToString(raw) != s {
		return h, fmt.Errorf("%q is not a base64 SHA-256 hash", s)
	}
	copy(h[:], raw)
	return h, nil
}

// ParseStored reads a batch from the fields of the object that stores it:
// the first index, the entries as JSON Lines, the previous hash, the root
// (both base64) and the signed checkpoint. Its errors name the field.
func ParseStored(first int64, entries, previous, root, checkpoint string) (Batch, error) {
	b := Batch{First: first, Payload: []byte(entries), Checkpoint: []byte(checkpoint)}
	if first < 0 {
		return b, fmt.Errorf("first: %d is not an index", first)
	}
	var err error
	if b.Previous, err = parseHash(previous); err != nil {
		return b, fmt.Errorf("previous: %w", err)
	}
	if b.Root, err = parseHash(root); err != nil {
		return b, fmt.Errorf("root: %w", err)
	}
	if _, err := b.Lines(); err != nil {
		return b, fmt.Errorf("entries: %w", err)
	}
	return b, nil
}
