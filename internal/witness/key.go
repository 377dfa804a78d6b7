package witness

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	cosig "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/utils/clock"
)

// algCosignatureV1 is the signed-note key type of an Ed25519 cosigner
// (c2sp.org/tlog-cosignature): the byte before the key material, and part
// of what the key hash hashes.
const algCosignatureV1 = 0x04

// GenerateKey makes a witness key named name (a schema-less URL that names
// the witness, as witness.example.com/security). skey is the private key the
// witness signs with; vkey is the public verifier key that logs and
// verifiers are given. Both are in the signed-note key format with the
// cosignature/v1 key type 0x04, which transparency-dev/formats' cosignature
// signer and verifier read; note.NewSigner refuses the private key, so a
// witness key cannot be mistaken for a log key.
func GenerateKey(random io.Reader, name string) (skey, vkey string, err error) {
	if !validKeyName(name) {
		return "", "", fmt.Errorf("witness key name %q must be non-empty, without spaces or a plus sign", name)
	}
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return "", "", err
	}
	return encodeKeys(name, priv.Seed(), pub)
}

func encodeKeys(name string, seed []byte, pub ed25519.PublicKey) (skey, vkey string, err error) {
	hash := keyHash(name, pub)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, hash, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, seed...)))
	vkey = fmt.Sprintf("%s+%08x+%s", name, hash, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...)))
	return skey, vkey, nil
}

// keyHash is the key ID of an Ed25519 cosigner key:
// SHA-256(name || "\n" || 0x04 || public key)[:4].
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validKeyName is the signed-note rule for key names.
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// Cosigner signs cosignature/v1 signatures (c2sp.org/tlog-cosignature) with
// a witness key, timestamped by its clock. It is a note.Signer: note.Sign
// with it over a checkpoint's body gives the cosignature line.
type Cosigner struct {
	name  string
	hash  uint32
	key   ed25519.PrivateKey
	clock clock.PassiveClock
}

// NewCosigner reads a private key that GenerateKey made. Its signatures
// are timestamped by clk; nil is the real clock.
func NewCosigner(skey string, clk clock.PassiveClock) (*Cosigner, error) {
	fields := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(fields) != 5 || fields[0] != "PRIVATE" || fields[1] != "KEY" || !validKeyName(fields[2]) || len(fields[3]) != 8 {
		return nil, errors.New("not a witness private key: want PRIVATE+KEY+<name>+<key hash>+<key>, as witness keygen writes")
	}
	name := fields[2]
	key, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil || len(key) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("witness private key %s: the key is not base64 of a type byte and a 32-byte Ed25519 seed", name)
	}
	if key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("witness private key %s has key type %#02x, not the cosignature/v1 type %#02x: a witness key must not be a log key; make one with witness keygen", name, key[0], algCosignatureV1)
	}
	priv := ed25519.NewKeyFromSeed(key[1:])
	if clk == nil {
		clk = clock.RealClock{}
	}
	c := &Cosigner{name: name, key: priv, clock: clk}
	c.hash = keyHash(name, c.public())
	if want := fmt.Sprintf("%08x", c.hash); fields[3] != want {
		return nil, fmt.Errorf("witness private key %s: its key hash is %s, the key gives %s (the key was changed)", name, fields[3], want)
	}
	return c, nil
}

func (c *Cosigner) public() ed25519.PublicKey { return c.key.Public().(ed25519.PublicKey) }

// Name is the witness's name, the first word of its cosignature lines.
func (c *Cosigner) Name() string { return c.name }

// KeyHash is the key ID that starts each of its signatures.
func (c *Cosigner) KeyHash() uint32 { return c.hash }

// VerifierKey is the public key, as GenerateKey's vkey.
func (c *Cosigner) VerifierKey() string {
	_, vkey, _ := encodeKeys(c.name, c.key.Seed(), c.public())
	return vkey
}

// Sign cosigns a checkpoint's note body: the signature is the timestamp as
// 8 big-endian bytes, then the Ed25519 signature of "cosignature/v1\n",
// "time <unix seconds>\n" and the body. note.Sign puts the key hash before
// it.
func (c *Cosigner) Sign(body []byte) ([]byte, error) {
	t := c.clock.Now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("cannot cosign at %s, before 1970", c.clock.Now())
	}
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, 8+ed25519.SignatureSize), uint64(t))
	return append(sig, ed25519.Sign(c.key, cosignedMessage(t, body))...), nil
}

// cosignedMessage is what a cosignature/v1 signature signs.
func cosignedMessage(t int64, body []byte) []byte {
	return append(fmt.Appendf(nil, "cosignature/v1\ntime %d\n", t), body...)
}

// NewVerifier reads a witness's public key (GenerateKey's vkey) as a
// verifier of its cosignatures, with transparency-dev/formats' cosignature
// verifier, so that what this package signs is checked as every other
// witness's cosignatures are.
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := cosig.NewVerifierForCosignatureV1(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("witness key %q: %w", vkey, err)
	}
	return v, nil
}
