package custody

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func evidence(transfers ...securityv1alpha1.CustodyTransfer) *securityv1alpha1.Evidence {
	return &securityv1alpha1.Evidence{
		ObjectMeta: metav1.ObjectMeta{Name: "disk"},
		Spec: securityv1alpha1.EvidenceSpec{
			Kind:        securityv1alpha1.EvidenceDiskImage,
			SHA256:      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", // "hello"
			CollectedAt: metav1.NewTime(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)),
			CollectedBy: &securityv1alpha1.Attestation{Username: "ann"},
			Custody:     transfers,
		},
	}
}

func transfer(seq int32, from, to string, hour int) securityv1alpha1.CustodyTransfer {
	return securityv1alpha1.CustodyTransfer{Sequence: seq, From: from, To: to, Reason: "r",
		At: metav1.NewTime(time.Date(2026, 11, 20, hour, 0, 0, 0, time.UTC))}
}

func TestVerifyDigest(t *testing.T) {
	if err := VerifyDigest(evidence(), strings.NewReader("hello")); err != nil {
		t.Fatalf("the recorded bytes: %v", err)
	}
	err := VerifyDigest(evidence(), strings.NewReader("hellO"))
	var mismatch *MismatchError
	if !errors.As(err, &mismatch) || mismatch.Computed == mismatch.Recorded {
		t.Fatalf("an altered copy: got %v, want a MismatchError", err)
	}
	paper := evidence()
	paper.Spec.SHA256 = ""
	if err := VerifyDigest(paper, strings.NewReader("hello")); err == nil {
		t.Fatal("evidence without a digest verified")
	}
}

func TestCheck(t *testing.T) {
	tests := map[string]struct {
		transfers []securityv1alpha1.CustodyTransfer
		holder    string
		problems  []string
	}{
		"collected only": {holder: "ann"},
		"a chain that holds": {
			transfers: []securityv1alpha1.CustodyTransfer{transfer(1, "bob", "lab", 11), transfer(0, "ann", "bob", 10)},
			holder:    "lab",
		},
		"handed over by someone who did not hold it": {
			transfers: []securityv1alpha1.CustodyTransfer{transfer(0, "ann", "bob", 10), transfer(1, "eve", "lab", 11)},
			holder:    "lab",
			problems:  []string{`spec.custody[sequence=1].from: "eve" hands the item over, but transfer 0 gave it to "bob"`},
		},
		"dated before the collection": {
			transfers: []securityv1alpha1.CustodyTransfer{transfer(0, "ann", "bob", 8)},
			holder:    "bob",
			problems:  []string{"spec.custody[sequence=0].at: 2026-11-20T08:00:00Z is before the item was collected (2026-11-20T09:00:00Z)"},
		},
		"dated in the future": {
			transfers: []securityv1alpha1.CustodyTransfer{transfer(0, "ann", "bob", 23)},
			holder:    "bob",
			problems:  []string{"spec.custody[sequence=0].at: 2026-11-20T23:00:00Z is in the future"},
		},
		"dated before the transfer it follows": {
			transfers: []securityv1alpha1.CustodyTransfer{transfer(0, "ann", "bob", 12), transfer(1, "bob", "lab", 11)},
			holder:    "lab",
			problems:  []string{"spec.custody[sequence=1].at: is before transfer 0"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ev := evidence(tc.transfers...)
			if got := Holder(ev); got != tc.holder {
				t.Errorf("holder %q, want %q", got, tc.holder)
			}
			got := Check(ev, time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC))
			if strings.Join(got, "\n") != strings.Join(tc.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.problems, "\n"))
			}
		})
	}
}
