package patch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// filingJSON is a Filing as the API server stores it at generation, with
// edit's steps recorded.
func filingJSON(t *testing.T, generation int64, edit func(*securityv1alpha1.FilingSpec)) []byte {
	t.Helper()
	f := securityv1alpha1.Filing{
		ObjectMeta: metav1.ObjectMeta{Name: "breach.uk-gdpr.notification", Namespace: "finance", Generation: generation, ResourceVersion: "70"},
		Spec: securityv1alpha1.FilingSpec{
			Incident: "breach", Regime: "uk-gdpr", Stage: "notification", Citation: "UK GDPR Art. 33(1)",
			Recipient: securityv1alpha1.RecipientSupervisoryAuthority, RequiredContent: []string{"nature"}, AgreementsRequired: 1,
		},
	}
	if edit != nil {
		edit(&f.Spec)
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// applyFiling applies a JSON patch to a stored Filing.
func applyFiling(t *testing.T, doc, body []byte) (securityv1alpha1.FilingSpec, error) {
	t.Helper()
	p, err := jsonpatch.DecodePatch(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		return securityv1alpha1.FilingSpec{}, err
	}
	var f securityv1alpha1.Filing
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	return f.Spec, nil
}

var (
	rita    = &securityv1alpha1.Attestation{Username: "rita"}
	alice   = &securityv1alpha1.Attestation{Username: "alice"}
	filedAt = metav1.NewTime(time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC))
	drafted = func(s *securityv1alpha1.FilingSpec) {
		s.Draft = &securityv1alpha1.FilingDraft{Content: map[string]securityv1alpha1.ContentValue{"nature": "n"}, DraftedBy: rita}
	}
	agreedBy = func(s *securityv1alpha1.FilingSpec) {
		drafted(s)
		s.Agreements = []securityv1alpha1.FilingAgreement{{Sequence: 0, By: alice}}
	}
	filedStep = func(s *securityv1alpha1.FilingSpec) {
		agreedBy(s)
		s.Filed = &securityv1alpha1.FilingSubmission{At: filedAt, Reference: "ICO-1", By: rita}
	}
)

// Each step's patch, applied to the Filing as read, records what the
// person said and nothing else: no account (the API server writes it), no
// other step touched.
func TestFilingSteps(t *testing.T) {
	tests := map[string]struct {
		before func(*securityv1alpha1.FilingSpec)
		body   func() ([]byte, error)
		want   func(*securityv1alpha1.FilingSpec)
	}{
		"a decision that the stage is required": {
			body: func() ([]byte, error) {
				return FilingStep(7, "decision", securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired})
			},
			want: func(s *securityv1alpha1.FilingSpec) {
				s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired}
			},
		},
		"a decision that it is not, with an exemption": {
			body: func() ([]byte, error) {
				return FilingStep(7, "decision", securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "encrypted", Exemption: securityv1alpha1.ExemptionUnintelligible})
			},
			want: func(s *securityv1alpha1.FilingSpec) {
				s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "encrypted", Exemption: securityv1alpha1.ExemptionUnintelligible}
			},
		},
		"a draft": {
			body: func() ([]byte, error) {
				return FilingStep(7, "draft", securityv1alpha1.FilingDraft{Content: map[string]securityv1alpha1.ContentValue{"nature": "n"}})
			},
			want: func(s *securityv1alpha1.FilingSpec) {
				s.Draft = &securityv1alpha1.FilingDraft{Content: map[string]securityv1alpha1.ContentValue{"nature": "n"}}
			},
		},
		"the first agreement makes the list": {
			before: drafted,
			body: func() ([]byte, error) {
				return FilingAppend(7, "agreements", 0, securityv1alpha1.FilingAgreement{Sequence: 0, Note: "checked"})
			},
			want: func(s *securityv1alpha1.FilingSpec) {
				drafted(s)
				s.Agreements = []securityv1alpha1.FilingAgreement{{Sequence: 0, Note: "checked"}}
			},
		},
		"a second agreement goes after the first": {
			before: agreedBy,
			body: func() ([]byte, error) {
				return FilingAppend(7, "agreements", 1, securityv1alpha1.FilingAgreement{Sequence: 1})
			},
			want: func(s *securityv1alpha1.FilingSpec) {
				agreedBy(s)
				s.Agreements = append(s.Agreements, securityv1alpha1.FilingAgreement{Sequence: 1})
			},
		},
		"the filing": {
			before: agreedBy,
			body: func() ([]byte, error) {
				return FilingStep(7, "filed", securityv1alpha1.FilingSubmission{At: filedAt, Reference: "ICO-1", DelayReason: "weekend"})
			},
			want: func(s *securityv1alpha1.FilingSpec) {
				agreedBy(s)
				s.Filed = &securityv1alpha1.FilingSubmission{At: filedAt, Reference: "ICO-1", DelayReason: "weekend"}
			},
		},
		"the acknowledgement": {
			before: filedStep,
			body: func() ([]byte, error) {
				return FilingStep(7, "acknowledgement", securityv1alpha1.FilingAcknowledgement{At: filedAt, CaseNumber: "C-9"})
			},
			want: func(s *securityv1alpha1.FilingSpec) {
				filedStep(s)
				s.Acknowledgement = &securityv1alpha1.FilingAcknowledgement{At: filedAt, CaseNumber: "C-9"}
			},
		},
		"the first letter": {
			before: filedStep,
			body: func() ([]byte, error) {
				return FilingAppend(7, "correspondence", 0, securityv1alpha1.Correspondence{Sequence: 0, At: filedAt, Direction: securityv1alpha1.CorrespondenceReceived, Summary: "questions", AttachmentSHA256: strings.Repeat("a", 64)})
			},
			want: func(s *securityv1alpha1.FilingSpec) {
				filedStep(s)
				s.Correspondence = []securityv1alpha1.Correspondence{{Sequence: 0, At: filedAt, Direction: securityv1alpha1.CorrespondenceReceived, Summary: "questions", AttachmentSHA256: strings.Repeat("a", 64)}}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			body, err := tc.body()
			if err != nil {
				t.Fatal(err)
			}
			got, err := applyFiling(t, filingJSON(t, 7, tc.before), body)
			if err != nil {
				t.Fatalf("applying %s to the Filing as read: %v", body, err)
			}
			var want securityv1alpha1.Filing
			if err := json.Unmarshal(filingJSON(t, 7, tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want.Spec) {
				t.Errorf("after %s:\n got %+v\nwant %+v", body, got, want.Spec)
			}
		})
	}
}

// Whatever was recorded after the Filing was read, the step is not
// applied over it: not a second agreement numbered as the first, not a
// first agreement replacing one made meanwhile (there was no list to
// test), not a decision over another's.
func TestFilingStepsNeverRace(t *testing.T) {
	tests := map[string]struct {
		// stored is the Filing as recorded meanwhile, at generation 8.
		stored func(*securityv1alpha1.FilingSpec)
		body   func() ([]byte, error)
	}{
		"two first agreements": {
			stored: agreedBy,
			body: func() ([]byte, error) {
				return FilingAppend(7, "agreements", 0, securityv1alpha1.FilingAgreement{Sequence: 0})
			},
		},
		"two second agreements": {
			stored: func(s *securityv1alpha1.FilingSpec) {
				agreedBy(s)
				s.Agreements = append(s.Agreements, securityv1alpha1.FilingAgreement{Sequence: 1, By: rita})
			},
			body: func() ([]byte, error) {
				return FilingAppend(7, "agreements", 1, securityv1alpha1.FilingAgreement{Sequence: 1})
			},
		},
		"two decisions": {
			stored: func(s *securityv1alpha1.FilingSpec) {
				s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "r", DecidedBy: alice}
			},
			body: func() ([]byte, error) {
				return FilingStep(7, "decision", securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired})
			},
		},
		"two first letters": {
			stored: func(s *securityv1alpha1.FilingSpec) {
				filedStep(s)
				s.Correspondence = []securityv1alpha1.Correspondence{{Sequence: 0, At: filedAt, Direction: securityv1alpha1.CorrespondenceSent, Summary: "s", By: rita}}
			},
			body: func() ([]byte, error) {
				return FilingAppend(7, "correspondence", 0, securityv1alpha1.Correspondence{Sequence: 0, At: filedAt, Direction: securityv1alpha1.CorrespondenceReceived, Summary: "r"})
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			body, err := tc.body()
			if err != nil {
				t.Fatal(err)
			}
			if got, err := applyFiling(t, filingJSON(t, 8, tc.stored), body); err == nil {
				t.Errorf("%s applied to a Filing changed since it was read: %+v", body, got)
			}
		})
	}
}

// The operator's writes to status change the resourceVersion, not the
// generation: a step is still recorded after them.
func TestFilingStepsFollowAStatusWrite(t *testing.T) {
	body, err := FilingAppend(7, "agreements", 0, securityv1alpha1.FilingAgreement{Sequence: 0})
	if err != nil {
		t.Fatal(err)
	}
	var f securityv1alpha1.Filing
	if err := json.Unmarshal(filingJSON(t, 7, drafted), &f); err != nil {
		t.Fatal(err)
	}
	f.ResourceVersion = "71"
	doc, _ := json.Marshal(f)
	if got, err := applyFiling(t, doc, body); err != nil || len(got.Agreements) != 1 {
		t.Errorf("after a status write: %+v, %v", got, err)
	}
}

func TestFilingPatchNeedsTheGeneration(t *testing.T) {
	if body, err := FilingStep(0, "decision", securityv1alpha1.FilingDecision{}); err == nil {
		t.Errorf("a patch without the generation read: %s", body)
	}
}
