package patch

import (
	"encoding/json"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func incidentJSON(t *testing.T, edit func(*securityv1alpha1.IncidentSpec)) []byte {
	t.Helper()
	inc := securityv1alpha1.Incident{Spec: securityv1alpha1.IncidentSpec{Title: "t", Category: "Other", Severity: "Low"}}
	if edit != nil {
		edit(&inc.Spec)
	}
	data, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mergeInto(t *testing.T, doc, patch []byte) securityv1alpha1.IncidentSpec {
	t.Helper()
	out, err := jsonpatch.MergePatch(doc, patch)
	if err != nil {
		t.Fatal(err)
	}
	var inc securityv1alpha1.Incident
	if err := json.Unmarshal(out, &inc); err != nil {
		t.Fatal(err)
	}
	return inc.Spec
}

func TestRecords(t *testing.T) {
	at := time.Date(2026, 11, 21, 15, 0, 0, 0, time.FixedZone("CET", 3600))
	placed := &securityv1alpha1.Attestation{Username: "pat"}
	tests := map[string]struct {
		before func(*securityv1alpha1.IncidentSpec)
		patch  []byte
		check  func(securityv1alpha1.IncidentSpec) bool
	}{
		"acknowledge with a note": {
			patch: Acknowledge("Rita", "Looking into it"),
			check: func(s securityv1alpha1.IncidentSpec) bool {
				return *s.Acknowledgement == securityv1alpha1.Acknowledgement{By: "Rita", Note: "Looking into it"}
			},
		},
		"acknowledge without a note stores none": {
			patch: Acknowledge("Rita", ""),
			check: func(s securityv1alpha1.IncidentSpec) bool {
				return *s.Acknowledgement == securityv1alpha1.Acknowledgement{By: "Rita"}
			},
		},
		"resolve": {
			patch: Resolve(securityv1alpha1.ResolutionFalsePositive, "Rita", "Not phishing"),
			check: func(s securityv1alpha1.IncidentSpec) bool {
				return *s.Resolution == securityv1alpha1.Resolution{State: "FalsePositive", By: "Rita", Summary: "Not phishing"}
			},
		},
		"authority notified, in UTC": {
			patch: AuthorityNotified(at, "ICO-0042", ""),
			check: func(s securityv1alpha1.IncidentSpec) bool {
				n := s.AuthorityNotification
				return n.NotifiedAt.Time.Equal(at) && n.NotifiedAt.Location() == time.Local && n.Reference == "ICO-0042" && n.DelayReason == ""
			},
		},
		"place a hold": {
			patch: PlaceHold("Case 12"),
			check: func(s securityv1alpha1.IncidentSpec) bool {
				return s.LegalHold.Reason == "Case 12" && s.LegalHold.Active()
			},
		},
		"place a hold again after a release drops the old record": {
			before: func(s *securityv1alpha1.IncidentSpec) {
				s.LegalHold = &securityv1alpha1.LegalHold{Reason: "old", PlacedBy: placed, Released: &securityv1alpha1.LegalHoldRelease{Reason: "done", By: placed}}
			},
			patch: PlaceHold("Case 13"),
			check: func(s securityv1alpha1.IncidentSpec) bool {
				return s.LegalHold.Reason == "Case 13" && s.LegalHold.PlacedBy == nil && s.LegalHold.Released == nil
			},
		},
		"release keeps who placed it": {
			before: func(s *securityv1alpha1.IncidentSpec) {
				s.LegalHold = &securityv1alpha1.LegalHold{Reason: "Case 12", PlacedBy: placed}
			},
			patch: ReleaseHold("Case closed"),
			check: func(s securityv1alpha1.IncidentSpec) bool {
				return s.LegalHold.Reason == "Case 12" && s.LegalHold.PlacedBy.Username == "pat" && s.LegalHold.Released.Reason == "Case closed"
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := mergeInto(t, incidentJSON(t, tc.before), tc.patch)
			if !tc.check(got) {
				t.Errorf("after %s: %+v", tc.patch, got)
			}
			if got.Title != "t" || got.Severity != "Low" {
				t.Errorf("the patch changed what was reported: %+v", got)
			}
		})
	}
}

func evidenceJSON(t *testing.T, custody []securityv1alpha1.CustodyTransfer) ([]byte, []any) {
	t.Helper()
	ev := securityv1alpha1.Evidence{Spec: securityv1alpha1.EvidenceSpec{Incident: "phish", Kind: "File", Description: "d", StorageLocation: "safe", Custody: custody}}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&ev)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := u["spec"].(map[string]any)["custody"].([]any)
	return data, list
}

func transfer(seq int32, from, to string) securityv1alpha1.CustodyTransfer {
	return securityv1alpha1.CustodyTransfer{Sequence: seq, From: from, To: to, Reason: "r", At: metav1.NewTime(time.Date(2026, 11, 21, 9, 0, int(seq), 0, time.UTC))}
}

func applyTransfer(t *testing.T, doc []byte, current []any, next securityv1alpha1.CustodyTransfer) ([]securityv1alpha1.CustodyTransfer, error) {
	t.Helper()
	p, err := Transfer(current, next)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := jsonpatch.DecodePatch(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decoded.Apply(doc)
	if err != nil {
		return nil, err
	}
	var ev securityv1alpha1.Evidence
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.Spec.Custody, nil
}

func TestTransferAppendsAtTheEnd(t *testing.T) {
	first := transfer(0, "rita", "Forensics lab")
	doc, current := evidenceJSON(t, nil)
	got, err := applyTransfer(t, doc, current, first)
	if err != nil || len(got) != 1 || got[0].To != "Forensics lab" {
		t.Fatalf("first transfer: %+v, %v", got, err)
	}
	doc, current = evidenceJSON(t, []securityv1alpha1.CustodyTransfer{first})
	got, err = applyTransfer(t, doc, current, transfer(1, "Forensics lab", "Police"))
	if err != nil || len(got) != 2 || got[1].Sequence != 1 || got[1].To != "Police" || got[0].To != first.To || !got[0].At.Equal(&first.At) {
		t.Fatalf("second transfer: %+v, %v", got, err)
	}
}

// Two people read the same evidence and both record a transfer: the one
// whose patch arrives second fails its test, and sequence 1 is not taken
// twice.
func TestTransfersNeverRace(t *testing.T) {
	first := transfer(0, "rita", "Forensics lab")
	_, readByBoth := evidenceJSON(t, []securityv1alpha1.CustodyTransfer{first})
	stored, _ := evidenceJSON(t, []securityv1alpha1.CustodyTransfer{first, transfer(1, "Forensics lab", "Police")})
	if got, err := applyTransfer(t, stored, readByBoth, transfer(1, "Forensics lab", "Archive")); err == nil {
		t.Fatalf("the late transfer applied: %+v", got)
	}
}
