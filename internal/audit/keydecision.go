package audit

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// RetiredKeysAnnotation, on the signing key Secret, names (comma-separated)
// key ids an administrator removed on purpose: keys that are lost, or that
// no trail that must still verify uses. Trails they signed no longer verify
// by signature, and no key may take their ids again.
const RetiredKeysAnnotation = "security.incidentops.io/retired-audit-keys"

// KeyEvidence is what DecideKeys weighs: the Secret as read, and signatures
// the operator made before, which the keys must still verify.
type KeyEvidence struct {
	// Secret is the Secret's NAMESPACE/NAME, for the reason.
	Secret string
	// Found is false when the Secret does not exist.
	Found bool
	// Data is the Secret's data: key id -> secret.
	Data map[string][]byte
	// Retired are the ids its RetiredKeysAnnotation names.
	Retired []string
	// TrailsExist is true when any audit trail exists.
	TrailsExist bool
	// Signed are heads signed before: the incidents' status.audit.head, and
	// entries of stored trails.
	Signed []SignedHead
}

// SignedHead is a head, or an entry, that the operator signed.
type SignedHead struct {
	// Where names it for people, such as "incident payroll/lost-laptop".
	Where     string
	Namespace string
	Subject   securityv1alpha1.AuditSubject
	Head      securityv1alpha1.AuditHead
}

// KeyAction is what the operator does with its signing key Secret.
type KeyAction int

const (
	// UseKeys signs with the Secret's keys.
	UseKeys KeyAction = iota
	// CreateKey creates the Secret with one new key (NewKey): nothing was
	// signed yet, so nothing can be left unverifiable.
	CreateKey
	// WithholdSigning signs nothing until the Secret is put right: the
	// audit trails stop, and the reason says what to do.
	WithholdSigning
)

// KeyDecision is what DecideKeys decided.
type KeyDecision struct {
	Action KeyAction
	// Keys are the Secret's keys, with UseKeys.
	Keys *KeyRing
	// Reason says, with WithholdSigning, what is wrong and what to do.
	Reason string
}

// DecideKeys decides whether the operator may sign with the keys its Secret
// holds. It never lets a key be replaced without an administrator saying
// so: the Secret is created only while nothing has been signed, and the
// keys it holds must verify what was signed before, key by key, unless the
// administrator retired that key. A key whose id is held is taken to be the
// same key when any head it signed verifies, so that one forged head does
// not stop the operator.
func DecideKeys(in KeyEvidence) KeyDecision {
	if !in.Found {
		if !in.TrailsExist && len(in.Signed) == 0 {
			return KeyDecision{Action: CreateKey}
		}
		signed := "audit trails exist"
		if len(in.Signed) > 0 {
			signed = fmt.Sprintf("%s was signed with key %q", in.Signed[0].Where, in.Signed[0].Head.KeyID)
		}
		return withhold("the audit signing key Secret %s is missing, and %s: the operator signs no audit entry until it is restored. "+
			"Restore the Secret from your backup, with every key it held; only if the keys are lost, create it with a new key "+
			"and name the lost key ids in its annotation %s (trails they signed then no longer verify by signature)",
			in.Secret, signed, RetiredKeysAnnotation)
	}
	keys, err := KeyRingFromSecret(in.Data)
	if err != nil {
		return withhold("the audit signing key Secret %s cannot be used: %v; the operator signs no audit entry until it is corrected", in.Secret, err)
	}
	retired := map[string]bool{}
	for _, id := range in.Retired {
		if _, held := in.Data[id]; held {
			return withhold("the audit signing key Secret %s holds key %q and names it as retired in %s: "+
				"a retired id must never be used again, so that no trail is checked against a key that did not sign it; "+
				"remove the key, or restore the retired one and take it out of the annotation",
				in.Secret, id, RetiredKeysAnnotation)
		}
		retired[id] = true
	}
	byKey := map[string][]SignedHead{}
	for _, s := range in.Signed {
		if !retired[s.Head.KeyID] {
			byKey[s.Head.KeyID] = append(byKey[s.Head.KeyID], s)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(byKey)) {
		signed := byKey[id]
		if _, held := keys.key(id); !held {
			return withhold("the audit signing key Secret %s does not hold key %q, which signed %s: the operator signs no audit entry until it does. "+
				"Put the key back (rotating adds a key and keeps the old ones); only if it is lost, name it in the annotation %s "+
				"(trails it signed then no longer verify by signature)",
				in.Secret, id, whereOf(signed), RetiredKeysAnnotation)
		}
		if !anyVerifies(keys, signed) {
			return withhold("key %q of the audit signing key Secret %s does not verify %s, which it signed: the Secret holds another key under that id "+
				"(replaced, or made again), and the operator signs no audit entry until it holds the original. Restore the key from your backup; "+
				"only if it is lost, remove it, add a new key with a new id, and name %q in the annotation %s",
				id, in.Secret, whereOf(signed), id, RetiredKeysAnnotation)
		}
	}
	return KeyDecision{Action: UseKeys, Keys: keys}
}

func withhold(format string, args ...any) KeyDecision {
	return KeyDecision{Action: WithholdSigning, Reason: fmt.Sprintf(format, args...)}
}

// anyVerifies reports whether keys verify any of the heads.
func anyVerifies(keys *KeyRing, signed []SignedHead) bool {
	for _, s := range signed {
		if CheckHead(s.Namespace, s.Subject, s.Head, keys) == nil {
			return true
		}
	}
	return false
}

// whereOf names the first few signed heads.
func whereOf(signed []SignedHead) string {
	const shown = 3
	names := make([]string, 0, shown)
	for _, s := range signed[:min(len(signed), shown)] {
		names = append(names, s.Where)
	}
	where := strings.Join(names, ", ")
	if more := len(signed) - shown; more > 0 {
		where += fmt.Sprintf(" and %d more", more)
	}
	return where
}

// RetiredKeys are the key ids a Secret's annotations name as retired.
func RetiredKeys(annotations map[string]string) []string {
	var ids []string
	for id := range strings.SplitSeq(annotations[RetiredKeysAnnotation], ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}
