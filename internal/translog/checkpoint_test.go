package translog

import (
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestCheckpointSignAndOpen(t *testing.T) {
	key := newKeyPair(t, "k")
	c := Checkpoint{Origin: testOrigin, Size: 1234, Root: tlog.RecordHash([]byte("x"))}
	msg, err := SignCheckpoint(c, key.signer)
	if err != nil {
		t.Fatal(err)
	}
	// The C2SP form: origin, size, base64 root, a blank line, one
	// signature line by the key named for the origin.
	lines := strings.Split(string(msg), "\n")
	if len(lines) != 6 || lines[0] != testOrigin || lines[1] != "1234" || lines[3] != "" || !strings.HasPrefix(lines[4], "— "+testOrigin+" ") {
		t.Fatalf("signed checkpoint\n%s", msg)
	}
	got, err := OpenCheckpoint(msg, testOrigin, key.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Errorf("opened %+v, want %+v", got, c)
	}

	other := newKeyPair(t, "o")
	tests := map[string]struct {
		msg      []byte
		origin   string
		verifier note.Verifier
		err      string
	}{
		"another key": {msg, testOrigin, other.verifier, "not signed by the log key"},
		"another log": {msg, "incidents.example.com/log/other", key.verifier, `not "incidents.example.com/log/other"`},
		"an edited size": {[]byte(strings.Replace(string(msg), "\n1234\n", "\n1235\n", 1)), testOrigin, key.verifier,
			"changed after the log key"},
		"not a note": {[]byte("hello"), testOrigin, key.verifier, "malformed note"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := OpenCheckpoint(tt.msg, tt.origin, tt.verifier)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	tests := map[string]struct {
		text string
		err  string
	}{
		"the three lines":      {"example.com/log\n10\n" + root + "\n", ""},
		"with extension lines": {"example.com/log\n10\n" + root + "\nextra\n", ""},
		"no final newline":     {"example.com/log\n10\n" + root, "newline"},
		"a missing root":       {"example.com/log\n10\n", "want origin, size and root"},
		"a size with a sign":   {"example.com/log\n+10\n" + root + "\n", "not a count"},
		"a short root":         {"example.com/log\n10\nAAAA\n", "not a base64 SHA-256"},
		"an empty line":        {"example.com/log\n10\n" + root + "\n\n", "empty"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := ParseCheckpoint([]byte(tt.text))
			if tt.err == "" {
				if err != nil || c.Origin != "example.com/log" || c.Size != 10 {
					t.Errorf("parsed %+v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestVerifierKeyIsThePublicHalf(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "incident-operator-audit-log")
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if got != vkey {
		t.Errorf("VerifierKey = %q, want %q", got, vkey)
	}
	other, _, _ := note.GenerateKey(rand.Reader, "incident-operator-audit-log")
	if v, _ := VerifierKey(other); v == vkey {
		t.Error("two signer keys give one public key")
	}
	for _, bad := range []string{"", vkey, "PRIVATE+KEY+x+00000000+AQ==", strings.Replace(skey, "+", "+x", 3)} {
		if _, err := VerifierKey(bad); err == nil {
			t.Errorf("VerifierKey(%q) is not refused", bad)
		}
	}
}
