package translog

import (
	"bytes"
	"strings"
	"testing"
)

func TestBatchEncodeRoundTrip(t *testing.T) {
	key := newKeyPair(t, "k")
	for i, b := range writeLog(t, key, testEntries(3, 5), 4) {
		data := b.Encode()
		back, err := DecodeBatch(data)
		if err != nil {
			t.Fatalf("batch %d: %v\n%s", i, err, data)
		}
		if back.First != b.First || back.Previous != b.Previous || back.Root != b.Root ||
			!bytes.Equal(back.Payload, b.Payload) || !bytes.Equal(back.Checkpoint, b.Checkpoint) {
			t.Errorf("batch %d read back as %+v", i, back)
		}
		if back.Hash() != b.Hash() {
			t.Errorf("batch %d hashes apart after a round trip", i)
		}
		if !bytes.Equal(back.Encode(), data) {
			t.Errorf("batch %d encodes differently the second time", i)
		}
	}
}

// Two writers that build the next batch from the same log with the same
// entries build the same bytes, and the same name.
func TestNextIsDeterministic(t *testing.T) {
	key := newKeyPair(t, "k")
	entries := testEntries(2, 3)
	a := writeLog(t, key, entries, 4)
	b := writeLog(t, key, entries, 4)
	for i := range a {
		if !bytes.Equal(a[i].Encode(), b[i].Encode()) || a[i].Name() != b[i].Name() {
			t.Errorf("batch %d differs between two writers", i)
		}
	}
}

func TestBatchName(t *testing.T) {
	tests := map[int64]string{0: "log-0000000000000000000", 128: "log-0000000000000000128", 1<<63 - 1: "log-9223372036854775807"}
	for first, want := range tests {
		if got := BatchName(first); got != want {
			t.Errorf("BatchName(%d) = %q, want %q", first, got, want)
		}
	}
	if !(BatchName(99) < BatchName(100)) {
		t.Error("names do not sort as indexes")
	}
}

func TestBatchHashCoversEachField(t *testing.T) {
	b := writeLog(t, newKeyPair(t, "k"), testEntries(2, 2), 4)[0]
	base := b.Hash()
	changes := map[string]func(b *Batch){
		"first":      func(b *Batch) { b.First++ },
		"payload":    func(b *Batch) { b.Payload[10]++ },
		"previous":   func(b *Batch) { b.Previous[0]++ },
		"root":       func(b *Batch) { b.Root[31]++ },
		"checkpoint": func(b *Batch) { b.Checkpoint = append(b.Checkpoint, "x"...) },
	}
	for name, change := range changes {
		c := cloneBatches([]Batch{b})[0]
		change(&c)
		if changed := c.Hash() != base; changed != (name != "checkpoint") {
			t.Errorf("changing %s changes the hash: %v", name, changed)
		}
	}
}

func TestDecodeBatchRefuses(t *testing.T) {
	good := string(writeLog(t, newKeyPair(t, "k"), testEntries(2, 2), 4)[0].Encode())
	tests := map[string]struct {
		data string
		err  string
	}{
		"another format":        {"hello\n", "not a log batch"},
		"a leading zero":        {strings.Replace(good, "first 0\n", "first 00\n", 1), "not a count"},
		"a negative index":      {strings.Replace(good, "first 0\n", "first -1\n", 1), "not a count"},
		"a short body":          {good[:len(good)-1], "header gives"},
		"a long body":           {good + "x", "header gives"},
		"a wrong entry count":   {strings.Replace(good, "entries 4 ", "entries 3 ", 1), "batch holds 4 entries"},
		"a hash of other width": {strings.Replace(good, "previous AAAA", "previous AA", 1), "not a base64 SHA-256 hash"},
		"a header cut short":    {"incident-operator translog batch v1\nfirst 0\n", "header ends"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeBatch([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// Lengths beyond the body are refused, not sliced.
func TestDecodeBatchHugeLengths(t *testing.T) {
	data := batchHeader + "first 0\nentries 1 9223372036854775807\nprevious " + strings.Repeat("A", 43) + "=\nroot " + strings.Repeat("A", 43) + "=\ncheckpoint 9223372036854775807\nx\n"
	if _, err := DecodeBatch([]byte(data)); err == nil || !strings.Contains(err.Error(), "header gives") {
		t.Errorf("error %v", err)
	}
}
