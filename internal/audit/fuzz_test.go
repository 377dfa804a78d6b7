package audit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// mutate applies one fuzzer-chosen change to entries: op picks what, at
// and other pick entries, value is what a field becomes.
func mutate(entries []securityv1alpha1.AuditEntry, op, at, other byte, value string) []securityv1alpha1.AuditEntry {
	if len(entries) == 0 {
		return entries
	}
	i, j := int(at)%len(entries), int(other)%len(entries)
	e := &entries[i]
	var number int64
	if len(value) >= 8 {
		number = int64(binary.BigEndian.Uint64([]byte(value)))
	}
	switch op % 16 {
	case 0:
		e.Actor.Username = value
	case 1:
		if len(e.Actor.Groups) == 0 {
			e.Actor.Groups = []string{value}
		} else {
			e.Actor.Groups[j%len(e.Actor.Groups)] = value
		}
	case 2:
		e.Actor.Operator = len(value)%2 == 1
	case 3:
		e.Action = securityv1alpha1.AuditAction(value)
	case 4: // a value, of a key there or a new one
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		keys := slices.Sorted(maps.Keys(e.Details))
		key := "new"
		if len(keys) > 0 {
			key = keys[j%len(keys)]
		}
		e.Details[key] = value
	case 5: // a key renamed, or removed when value is empty
		for k, v := range e.Details {
			delete(e.Details, k)
			if value != "" {
				e.Details[value] = v
			}
			break
		}
	case 6:
		e.PreviousHash = value
	case 7:
		e.Hash = value
	case 8:
		e.KeyID = value
	case 9:
		e.Signature = value
	case 10:
		e.Sequence = number
	case 11: // whole microseconds, as a stored time has no others
		e.Time.Time = e.Time.Add(time.Duration(int32(number)) * time.Microsecond)
	case 12:
		return slices.Delete(entries, i, i+1)
	case 13:
		return slices.Insert(entries, i+1, *e.DeepCopy())
	case 14:
		entries[i], entries[j] = entries[j], entries[i]
	case 15:
		return entries[:i]
	}
	return entries
}

// From a valid chain, any change to what is hashed or signed fails
// verification with a *BrokenError, and no change panics. program holds up
// to four changes of three bytes each (op, entry, other entry).
func FuzzVerify(f *testing.F) {
	f.Add([]byte{0, 7, 0}, "mallory")
	f.Add([]byte{4, 7, 1}, "Nothing stolen")
	f.Add([]byte{14, 5, 6}, "")
	f.Add([]byte{14, 5, 6, 14, 6, 5}, "") // swapped back: unchanged
	f.Add([]byte{12, 19, 0}, "")
	f.Add([]byte{13, 3, 0}, "")
	f.Add([]byte{11, 2, 0}, "\x00\x00\x00\x00\x00\x00\x00\x01")
	f.Add([]byte{10, 9, 0}, "\x00\x00\x00\x00\x00\x00\x00\x0a")
	f.Add([]byte{5, 0, 0}, "Severity")
	f.Add([]byte{8, 12, 0}, oldKey.ID)
	f.Add([]byte{1, 7, 0, 3, 7, 0}, "Resolved")
	original, head := testChain(f)
	ring := testRing(f)
	f.Fuzz(func(t *testing.T, program []byte, value string) {
		entries := clone(original)
		for k := 0; k+2 < len(program) && k < 12; k += 3 {
			entries = mutate(entries, program[k], program[k+1], program[k+2], value)
		}
		_, err := Verify(testNamespace, testSubject, entries, VerifyOptions{Keys: ring, Head: &head, Sealed: true})
		if reflect.DeepEqual(entries, original) {
			if err != nil {
				t.Fatalf("the unchanged chain: %v", err)
			}
			return
		}
		var broken *BrokenError
		if !errors.As(err, &broken) {
			t.Fatalf("a changed chain: %v, want a *BrokenError", err)
		}
	})
}

// Entries decoded from any JSON never make Verify panic, and only the
// genuine trail verifies with the keys and the head.
func FuzzVerifyJSON(f *testing.F) {
	// A short trail, so that the fuzzer spends its time on the entries'
	// fields rather than on decoding twenty of them.
	whole, _ := testChain(f)
	original, head := whole[:4], *headOf(&whole[3])
	genuine, err := json.Marshal(original)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine)
	f.Add([]byte(`[{"sequence":0,"time":null,"actor":{},"action":"","previousHash":"","hash":"","keyID":"","signature":""}]`))
	f.Add([]byte(`[{"sequence":-1,"time":"0001-01-01T00:00:00.000000Z"},{"sequence":9223372036854775807}]`))
	f.Add([]byte(`[]`))
	ring := testRing(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []securityv1alpha1.AuditEntry
		if json.Unmarshal(data, &entries) != nil {
			return
		}
		Verify(testNamespace, testSubject, entries, VerifyOptions{})
		if _, err := Verify(testNamespace, testSubject, entries, VerifyOptions{Keys: ring, Head: &head}); err != nil {
			return
		}
		if len(entries) != len(original) {
			t.Fatalf("%d entries verify, want %d", len(entries), len(original))
		}
		for i := range entries {
			if entries[i].Hash != original[i].Hash {
				t.Fatalf("entry %d verifies with hash %s, want %s", i, entries[i].Hash, original[i].Hash)
			}
		}
	})
}
