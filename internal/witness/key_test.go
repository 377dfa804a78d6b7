package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	cosig "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestCosignatureIsC2SPCosignatureV1 checks a cosignature the witness
// answers against c2sp.org/tlog-cosignature, byte by byte, with nothing but
// crypto/ed25519: key ID, big-endian timestamp, and the Ed25519 signature of
// "cosignature/v1", the time line and the checkpoint body.
func TestCosignatureIsC2SPCosignatureV1(t *testing.T) {
	_, log, w := witnessedLog(t)
	checkpoint := log.grow(3, "Reported")
	cosigned := w.mustSubmit(0, nil, checkpoint)
	line := strings.TrimSuffix(string(cosigned[len(checkpoint):]), "\n")
	fields := strings.Fields(line)
	if len(fields) != 3 || fields[0] != "—" || fields[1] != testWitnessName {
		t.Fatalf("the answer %q is not one signature line by %s", line, testWitnessName)
	}
	sig, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil || len(sig) != 4+8+64 {
		t.Fatalf("the signature is %d bytes (%v), want 4 + 8 + 64", len(sig), err)
	}

	_, vkey := witnessKey(t, testWitnessName, "w")
	parts := strings.SplitN(vkey, "+", 3)
	pub, _ := base64.StdEncoding.DecodeString(parts[2])
	if len(pub) != 33 || pub[0] != 0x04 {
		t.Fatalf("the verifier key %s is not of type 0x04 with 32 bytes", vkey)
	}
	pub = pub[1:]
	id := sha256.Sum256(append([]byte(testWitnessName+"\n\x04"), pub...))
	if string(sig[:4]) != string(id[:4]) || parts[1] != fmt.Sprintf("%x", id[:4]) {
		t.Errorf("key ID %x (in the key %s), want SHA-256(name || \\n || 0x04 || key)[:4] = %x", sig[:4], parts[1], id[:4])
	}
	if ts := binary.BigEndian.Uint64(sig[4:12]); ts != uint64(start.Unix()) {
		t.Errorf("timestamp %d, want the witness's clock, %d", ts, start.Unix())
	}
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", start.Unix(), translogText(t, checkpoint))
	if !ed25519.Verify(pub, []byte(msg), sig[12:]) {
		t.Errorf("the Ed25519 signature is not of %q", msg)
	}
}

// TestKeysWorkWithTheCosignatureLibrary checks the witness's keys and
// signatures against transparency-dev/formats, which other witnesses and
// verifiers use: its verifier accepts the witness's cosignatures, and a
// cosignature its signer makes with the witness's key passes
// VerifyCosigned.
func TestKeysWorkWithTheCosignatureLibrary(t *testing.T) {
	skey, vkey := witnessKey(t, testWitnessName, "w")
	theirSigner, err := cosig.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatalf("the library does not read the private key: %v", err)
	}
	theirVerifier, err := cosig.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatalf("the library does not read the verifier key: %v", err)
	}
	ours, err := NewCosigner(skey, clocktesting.NewFakePassiveClock(start))
	if err != nil {
		t.Fatal(err)
	}
	if theirSigner.KeyHash() != ours.KeyHash() || theirVerifier.KeyHash() != ours.KeyHash() || theirVerifier.Name() != ours.Name() {
		t.Errorf("key hashes: library signer %08x, verifier %08x; ours %08x", theirSigner.KeyHash(), theirVerifier.KeyHash(), ours.KeyHash())
	}
	if ours.VerifierKey() != vkey {
		t.Errorf("VerifierKey() = %s, want %s", ours.VerifierKey(), vkey)
	}

	key := newLogKey(t, testOrigin, "L")
	checkpoint := newTestLog(t, testOrigin, key).grow(4, "Reported")
	text := string(translogText(t, checkpoint))

	signedByUs, err := note.Sign(&note.Note{Text: text}, ours)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signedByUs, note.VerifierList(theirVerifier)); err != nil {
		t.Errorf("the library's verifier refuses the witness's cosignature: %v", err)
	}
	signedByThem, err := note.Sign(&note.Note{Text: text}, theirSigner)
	if err != nil {
		t.Fatal(err)
	}
	cosigned := append([]byte(checkpoint), signedByThem[len(text)+1:]...)
	if _, err := VerifyCosigned(cosigned, testOrigin, key.verifier, []note.Verifier{witnessVerifier(t, testWitnessName, "w")}, 1); err != nil {
		t.Errorf("VerifyCosigned refuses the library's cosignature: %v", err)
	}
}

func TestNewCosignerRefuses(t *testing.T) {
	skey, _ := witnessKey(t, testWitnessName, "w")
	logSkey, _, err := note.GenerateKey(seeded("L"), testWitnessName)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(skey, "+", 5)
	tests := map[string]struct {
		skey, want string
	}{
		"a log key":         {logSkey, "not the cosignature/v1 type"},
		"a verifier key":    {strings.Join(parts[2:], "+"), "not a witness private key"},
		"another key hash":  {strings.Join(append(parts[:3:3], "00000000", parts[4]), "+"), "the key was changed"},
		"a truncated key":   {skey[:len(skey)-8], "not base64 of a type byte and a 32-byte Ed25519 seed"},
		"a name with space": {"PRIVATE+KEY+a b+00000000+" + parts[4], "not a witness private key"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewCosigner(tc.skey, clocktesting.NewFakePassiveClock(start))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	// And a witness key is no log key.
	if _, err := note.NewSigner(skey); err == nil {
		t.Error("note.NewSigner accepts a witness key: it could sign checkpoints as a log")
	}
}

// Base64 holds '+', the separator of a key's fields: every generated key
// must read back, whatever its bytes.
func TestGeneratedKeysReadBack(t *testing.T) {
	var withPlus int
	for i := range 32 {
		seed := sha256.Sum256([]byte{byte(i)})
		skey, vkey, err := GenerateKey(bytes.NewReader(seed[:]), testWitnessName)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.SplitN(skey, "+", 5)[4], "+") {
			withPlus++
		}
		c, err := NewCosigner(skey, clocktesting.NewFakePassiveClock(start))
		if err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if c.VerifierKey() != vkey {
			t.Errorf("key %d: VerifierKey() = %s, want %s", i, c.VerifierKey(), vkey)
		}
		if _, err := NewVerifier(vkey); err != nil {
			t.Errorf("key %d: %v", i, err)
		}
	}
	if withPlus == 0 {
		t.Fatal("no private key of the seeds has a '+' in its base64: choose other seeds")
	}
}
