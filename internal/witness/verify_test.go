package witness

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	clocktesting "k8s.io/utils/clock/testing"
)

// cosign adds a cosignature line by the witness key made from seed to a
// signed checkpoint, as a witness's answer does.
func cosign(t *testing.T, name, seed string, signed []byte) []byte {
	t.Helper()
	skey, _ := witnessKey(t, name, seed)
	c, err := NewCosigner(skey, clocktesting.NewFakePassiveClock(start))
	if err != nil {
		t.Fatal(err)
	}
	text := translogText(t, signed)
	line, err := note.Sign(&note.Note{Text: string(text)}, c)
	if err != nil {
		t.Fatal(err)
	}
	return append(bytes.Clone(signed), line[len(text)+1:]...)
}

func witnessVerifier(t *testing.T, name, seed string) note.Verifier {
	t.Helper()
	_, vkey := witnessKey(t, name, seed)
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyCosigned(t *testing.T) {
	key := newLogKey(t, testOrigin, "L")
	log := newTestLog(t, testOrigin, key)
	signed := log.grow(5, "Reported")
	later := log.grow(2, "Routed")
	const second = "witness.example.org/audit"
	a := witnessVerifier(t, testWitnessName, "w")
	b := witnessVerifier(t, second, "b")

	cosignedByA := cosign(t, testWitnessName, "w", signed)
	// The witness's cosignature line of another checkpoint of the log.
	laterLine := cosign(t, testWitnessName, "w", later)[len(later):]
	changed := bytes.Replace(cosignedByA, []byte("\n5\n"), []byte("\n4\n"), 1)
	onlyWitness := append(append(translogText(t, signed), '\n'), cosignedByA[len(signed):]...)
	tests := map[string]struct {
		note      []byte
		origin    string
		log       note.Verifier
		witnesses []note.Verifier
		required  int
		wantErr   string
	}{
		"cosigned by the witness": {note: cosignedByA, witnesses: []note.Verifier{a}, required: 1},
		"cosigned by both of two": {note: cosign(t, second, "b", cosignedByA), witnesses: []note.Verifier{a, b}, required: 2},
		"one of two required":     {note: cosignedByA, witnesses: []note.Verifier{a, b}, required: 1},
		"not cosigned":            {note: signed, witnesses: []note.Verifier{a}, required: 1, wantErr: "0 valid cosignatures"},
		"cosigned by a key not listed": {
			note: cosign(t, second, "b", signed), witnesses: []note.Verifier{a}, required: 1, wantErr: "0 valid cosignatures",
		},
		"cosigned by another key under the witness's name": {
			note: cosign(t, testWitnessName, "z", signed), witnesses: []note.Verifier{a}, required: 1, wantErr: "0 valid cosignatures",
		},
		"one of two required cosignatures": {note: cosignedByA, witnesses: []note.Verifier{a, b}, required: 2, wantErr: "1 valid cosignatures by the witnesses, 2 are required"},
		"the cosignature of another checkpoint": {
			note: append(bytes.Clone(signed), laterLine...), witnesses: []note.Verifier{a}, required: 1, wantErr: "the signature by " + testWitnessName,
		},
		"changed after signing":      {note: changed, witnesses: []note.Verifier{a}, required: 1, wantErr: "does not verify"},
		"signed by the witness only": {note: onlyWitness, witnesses: []note.Verifier{a}, required: 1, wantErr: "not signed by the log key"},
		"of another log":             {note: cosignedByA, origin: "incidents.example.com/log/finance", witnesses: []note.Verifier{a}, required: 1, wantErr: "not \"incidents.example.com/log/finance\""},
		"by another log key":         {note: cosignedByA, log: newLogKey(t, testOrigin, "X").verifier, witnesses: []note.Verifier{a}, required: 1, wantErr: "not signed by the log key"},
		"the log key as a witness":   {note: cosignedByA, witnesses: []note.Verifier{a, key.verifier}, required: 1, wantErr: "given twice"},
		"no cosignature required":    {note: signed, witnesses: []note.Verifier{a}, required: 0, wantErr: "cannot require 0"},
		"more required than keys":    {note: cosignedByA, witnesses: []note.Verifier{a}, required: 2, wantErr: "cannot require 2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			origin, logVerifier := testOrigin, key.verifier
			if tc.origin != "" {
				origin = tc.origin
			}
			if tc.log != nil {
				logVerifier = tc.log
			}
			c, err := VerifyCosigned(tc.note, origin, logVerifier, tc.witnesses, tc.required)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want the checkpoint", err)
			case tc.wantErr == "" && c.Size != 5:
				t.Errorf("got %v, want the checkpoint at size 5", c)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}
