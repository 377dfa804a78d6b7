package v1alpha1

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestFilingBelongsToTheIncidentThatOwnsIt(t *testing.T) {
	incident := &Incident{ObjectMeta: metav1.ObjectMeta{Name: "letter", UID: types.UID("now")}}
	for name, tc := range map[string]struct {
		owners []metav1.OwnerReference
		want   bool
	}{
		"owned by the incident":                      {owners: []metav1.OwnerReference{{Kind: "Incident", Name: "letter", UID: "now"}}, want: true},
		"left by a deleted incident of that name":    {owners: []metav1.OwnerReference{{Kind: "Incident", Name: "letter", UID: "before"}}},
		"owned by nothing, such as one made by hand": {},
	} {
		t.Run(name, func(t *testing.T) {
			filing := &Filing{ObjectMeta: metav1.ObjectMeta{OwnerReferences: tc.owners}, Spec: FilingSpec{Incident: "letter"}}
			if got := filing.Of(incident); got != tc.want {
				t.Errorf("Of = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilingNamesFitAndDiffer(t *testing.T) {
	if got := FilingName("letter", "uk-gdpr", "notification"); got != "letter.uk-gdpr.notification" {
		t.Errorf("FilingName = %q", got)
	}
	long := strings.Repeat("a", 250)
	a, b := FilingName(long, "uk-gdpr", "notification"), FilingName(long+"b", "uk-gdpr", "notification")
	if len(a) > 253 || len(b) > 253 || a == b || !strings.HasSuffix(a, ".uk-gdpr.notification") {
		t.Errorf("long names %q (%d) and %q (%d): want distinct, at most 253, ending in the regime and stage", a, len(a), b, len(b))
	}
}
