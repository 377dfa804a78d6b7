package translog

import (
	"bytes"
	"testing"
)

// DecodeBatch reads whatever an archive or a cluster hands it without
// panicking, accepts only the one encoding of a batch, and what it accepts
// can be verified without panicking.
func FuzzDecodeBatch(f *testing.F) {
	key := newKeyPair(f, "k")
	for _, b := range writeLog(f, key, testEntries(3, 3), 4) {
		f.Add(b.Encode())
	}
	f.Add([]byte(batchHeader + "first 0\nentries 1 3\n"))
	f.Add([]byte{})
	opts := VerifyOptions{Origin: testOrigin, Verifier: key.verifier}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBatch(data)
		if err != nil {
			return
		}
		if again := b.Encode(); !bytes.Equal(again, data) {
			t.Fatalf("accepted bytes that encode otherwise:\n%q\n%q", data, again)
		}
		verify([]Batch{b}, opts, allChecks)
		opts.Kept = [][]byte{b.Checkpoint}
		verify([]Batch{b, b}, opts, allChecks)
	})
}
