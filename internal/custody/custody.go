// Package custody checks an item of evidence: that its bytes are the ones
// recorded (SHA-256) and that its chain of custody holds together, each
// transfer taking the item from whoever last received it.
package custody

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Digest is the hex SHA-256 of everything r holds.
func Digest(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// MismatchError says that a copy is not the item recorded.
type MismatchError struct {
	Recorded, Computed string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("the SHA-256 of the copy is %s, but the evidence records %s: it is not the item collected, or it was altered", e.Computed, e.Recorded)
}

// VerifyDigest checks that r holds the bytes the evidence recorded.
func VerifyDigest(ev *securityv1alpha1.Evidence, r io.Reader) error {
	if ev.Spec.SHA256 == "" {
		return fmt.Errorf("evidence %s records no SHA-256: %s evidence cannot be checked against a copy", ev.Name, ev.Spec.Kind)
	}
	computed, err := Digest(r)
	if err != nil {
		return fmt.Errorf("reading the copy: %w", err)
	}
	if computed != ev.Spec.SHA256 {
		return &MismatchError{Recorded: ev.Spec.SHA256, Computed: computed}
	}
	return nil
}

// Transfers are the evidence's custody transfers in order.
func Transfers(ev *securityv1alpha1.Evidence) []securityv1alpha1.CustodyTransfer {
	transfers := slices.Clone(ev.Spec.Custody)
	slices.SortFunc(transfers, func(a, b securityv1alpha1.CustodyTransfer) int { return int(a.Sequence - b.Sequence) })
	return transfers
}

// Holder is who holds the item now: the last transfer's recipient, or the
// account that collected it.
func Holder(ev *securityv1alpha1.Evidence) string {
	if transfers := Transfers(ev); len(transfers) > 0 {
		return transfers[len(transfers)-1].To
	}
	if ev.Spec.CollectedBy != nil {
		return ev.Spec.CollectedBy.Username
	}
	return ""
}

// clockSkew is how far a recorded time may lie ahead of the operator's
// clock, for a recorder's clock that runs fast.
const clockSkew = 5 * time.Minute

// Check returns what breaks the chain of custody, each naming the field:
// a transfer from someone other than the last recipient, one dated before
// the collection or before the transfer it follows, or a time after now.
func Check(ev *securityv1alpha1.Evidence, now time.Time) []string {
	var problems []string
	if ev.Spec.CollectedAt.After(now.Add(clockSkew)) {
		problems = append(problems, fmt.Sprintf("spec.collectedAt: %s is in the future", ev.Spec.CollectedAt.UTC().Format(time.RFC3339)))
	}
	transfers := Transfers(ev)
	for i, t := range transfers {
		field := fmt.Sprintf("spec.custody[sequence=%d]", t.Sequence)
		if t.At.After(now.Add(clockSkew)) {
			problems = append(problems, fmt.Sprintf("%s.at: %s is in the future", field, t.At.UTC().Format(time.RFC3339)))
		}
		if t.At.Before(&ev.Spec.CollectedAt) {
			problems = append(problems, fmt.Sprintf("%s.at: %s is before the item was collected (%s)", field, t.At.UTC().Format(time.RFC3339), ev.Spec.CollectedAt.UTC().Format(time.RFC3339)))
		}
		if i == 0 {
			continue
		}
		prev := transfers[i-1]
		if t.From != prev.To {
			problems = append(problems, fmt.Sprintf("%s.from: %q hands the item over, but transfer %d gave it to %q", field, t.From, prev.Sequence, prev.To))
		}
		if t.At.Before(&prev.At) {
			problems = append(problems, fmt.Sprintf("%s.at: is before transfer %d", field, prev.Sequence))
		}
	}
	return problems
}
