package filing

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func incident(obligations ...securityv1alpha1.ObligationStatus) *securityv1alpha1.Incident {
	inc := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "breach", Namespace: "finance", UID: "uid-breach"}}
	inc.Status.Obligations = obligations
	return inc
}

func obligation(regime, stage string, state securityv1alpha1.ObligationState) securityv1alpha1.ObligationStatus {
	return securityv1alpha1.ObligationStatus{Regime: regime, Stage: stage, State: state}
}

var (
	notification = obligation("uk-gdpr", "notification", securityv1alpha1.ObligationDrafted)
	further      = obligation("uk-gdpr", "further-information", securityv1alpha1.ObligationToDecide)
	subjects     = obligation("uk-gdpr", "data-subjects", securityv1alpha1.ObligationNotRequired)
	pecr         = obligation("pecr", "notification", securityv1alpha1.ObligationRequired)
)

func TestSelect(t *testing.T) {
	tests := map[string]struct {
		inc           *securityv1alpha1.Incident
		regime, stage string
		want          securityv1alpha1.ObligationStatus
		// err holds what the error must say, when there is one.
		err []string
	}{
		"the only regime and its only open stage": {
			inc:  incident(notification, subjects),
			want: notification,
		},
		"the only regime, a stage named": {
			inc:   incident(notification, further, subjects),
			stage: "data-subjects",
			want:  subjects,
		},
		"a regime and stage named among several": {
			inc:    incident(notification, further, pecr),
			regime: "pecr", stage: "notification",
			want: pecr,
		},
		"the only open stage of the regime named": {
			inc:    incident(notification, further, pecr),
			regime: "pecr",
			want:   pecr,
		},
		"no regime applies": {
			inc: incident(),
			err: []string{"no regulatory regime applies to incident breach"},
		},
		"several regimes, none named": {
			inc: incident(notification, pecr),
			err: []string{"under 2 regimes: give --regime, one of uk-gdpr, pecr"},
		},
		"a regime that does not apply": {
			inc:    incident(notification),
			regime: "nis2",
			err:    []string{`--regime "nis2" is not a regime of incident breach: its regimes are uk-gdpr`},
		},
		"several open stages, none named": {
			inc: incident(notification, further, subjects),
			err: []string{"2 open obligations under uk-gdpr: give --stage, one of notification (Drafted), further-information (ToDecide)"},
		},
		"no open stage, none named": {
			inc: incident(subjects),
			err: []string{"no open obligation under uk-gdpr: give --stage, one of data-subjects (NotRequired)"},
		},
		"a stage the regime does not have": {
			inc:   incident(notification, subjects),
			stage: "final-report",
			err:   []string{`--stage "final-report" is not a stage of uk-gdpr for incident breach: its stages are notification (Drafted), data-subjects (NotRequired)`},
		},
		"a stage of another regime": {
			inc:    incident(notification, pecr),
			regime: "pecr", stage: "data-subjects",
			err: []string{`--stage "data-subjects" is not a stage of pecr`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Select(tc.inc, tc.regime, tc.stage)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("selected %+v, want an error", got)
				}
				for _, want := range tc.err {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestNameAndEntries(t *testing.T) {
	named := notification
	named.Filing = "a-name-the-operator-chose"
	inc := incident(named, further)
	if got := Name("breach", further); got != "breach.uk-gdpr.further-information" {
		t.Errorf("Name without the operator's = %q", got)
	}
	owned := []metav1.OwnerReference{{Kind: "Incident", Name: "breach", UID: "uid-breach"}}
	filings := []securityv1alpha1.Filing{
		{ObjectMeta: metav1.ObjectMeta{Name: "a-name-the-operator-chose", OwnerReferences: owned, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other.uk-gdpr.further-information", OwnerReferences: owned}},
		// Left by an earlier incident named breach.
		{ObjectMeta: metav1.ObjectMeta{Name: "breach.uk-gdpr.further-information", OwnerReferences: []metav1.OwnerReference{{Kind: "Incident", Name: "breach", UID: "uid-earlier"}}}},
	}
	entries := Entries(inc, filings)
	if len(entries) != 2 || entries[0].Obligation != named || entries[1].Obligation != further {
		t.Fatalf("entries %+v", entries)
	}
	if entries[0].Filing == nil || entries[0].Filing.Name != "a-name-the-operator-chose" || entries[0].Filing.ManagedFields != nil {
		t.Errorf("the first obligation's Filing: %+v", entries[0].Filing)
	}
	if filings[0].ManagedFields == nil {
		t.Error("Entries changed the Filings it was given")
	}
	if entries[1].Filing != nil {
		t.Errorf("another incident's Filing, or another stage's, was taken for the second obligation: %+v", entries[1].Filing)
	}
}

func TestRegimesAndStages(t *testing.T) {
	inc := incident(notification, pecr, further)
	if got := Regimes(inc); !slices.Equal(got, []string{"uk-gdpr", "pecr"}) {
		t.Errorf("Regimes = %v", got)
	}
	if got := Stages(inc, "uk-gdpr"); !slices.Equal(got, []securityv1alpha1.ObligationStatus{notification, further}) {
		t.Errorf("Stages(uk-gdpr) = %v", got)
	}
	if got := Stages(inc, ""); len(got) != 3 {
		t.Errorf("Stages of every regime = %v", got)
	}
}

func TestMissingContent(t *testing.T) {
	required := []string{"nature", "contact", "consequences", "measures"}
	tests := map[string]struct {
		content map[string]securityv1alpha1.ContentValue
		want    []string
	}{
		"all there, and more":  {content: map[string]securityv1alpha1.ContentValue{"nature": "n", "contact": "c", "consequences": "c", "measures": "m", "extra": "e"}},
		"two lack, in order":   {content: map[string]securityv1alpha1.ContentValue{"contact": "c", "consequences": "c"}, want: []string{"nature", "measures"}},
		"a field named wrong":  {content: map[string]securityv1alpha1.ContentValue{"nature": "n", "Contact": "c", "consequences": "c", "measures": "m"}, want: []string{"contact"}},
		"nothing, all lacking": {want: required},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := MissingContent(required, tc.content); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
