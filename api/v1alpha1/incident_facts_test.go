package v1alpha1

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The facts every reader shares: a clock starts where the operator starts
// it, whichever of spec and status is set, and a time that cannot be right
// (after the report) never starts one.
func TestIncidentFacts(t *testing.T) {
	created := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: created.Add(d)} }
	tests := map[string]struct {
		spec                              IncidentSpec
		status                            IncidentStatus
		reported, aware, deadline, stated time.Time
	}{
		"nothing said: the creation": {
			reported: created, aware: created, stated: created, deadline: created.Add(72 * time.Hour)},
		"reported the evening before, over the weekend queue": {
			spec:     IncidentSpec{ReportedAt: at(-15 * time.Hour)},
			reported: created.Add(-15 * time.Hour), aware: created.Add(-15 * time.Hour), stated: created.Add(-15 * time.Hour),
			deadline: created.Add(57 * time.Hour)},
		"aware before reporting": {
			spec:     IncidentSpec{ReportedAt: at(-2 * time.Hour), AwareAt: at(-26 * time.Hour)},
			reported: created.Add(-2 * time.Hour), aware: created.Add(-26 * time.Hour), stated: created.Add(-26 * time.Hour),
			deadline: created.Add(46 * time.Hour)},
		"a report time in the future is the creation": {
			spec:     IncidentSpec{ReportedAt: at(time.Hour)},
			reported: created, aware: created, stated: created, deadline: created.Add(72 * time.Hour)},
		"awareness after the report is the report": {
			spec:     IncidentSpec{ReportedAt: at(-time.Hour), AwareAt: at(-time.Minute)},
			reported: created.Add(-time.Hour), aware: created.Add(-time.Hour), stated: created.Add(-time.Hour),
			deadline: created.Add(71 * time.Hour)},
		"the operator's record wins": {
			spec:     IncidentSpec{AwareAt: at(-3 * time.Hour)},
			status:   IncidentStatus{AwareAt: at(-5 * time.Hour), AuthorityNotificationDeadline: at(24 * time.Hour)},
			reported: created, aware: created.Add(-5 * time.Hour), stated: created.Add(-3 * time.Hour),
			deadline: created.Add(24 * time.Hour)},
	}
	for name, tc := range tests {
		inc := &Incident{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}, Spec: tc.spec, Status: tc.status}
		for what, got := range map[string][2]time.Time{
			"ReportedAt": {inc.ReportedAt(), tc.reported}, "AwareAt": {inc.AwareAt(), tc.aware},
			"ReportedAwareAt": {inc.ReportedAwareAt(), tc.stated}, "AuthorityDeadline": {inc.AuthorityDeadline(), tc.deadline},
		} {
			if !got[0].Equal(got[1]) {
				t.Errorf("%s: %s = %s, want %s", name, what, got[0].Format(time.RFC3339), got[1].Format(time.RFC3339))
			}
		}
	}
	if typ := (&Incident{}).IncidentType(); typ != TypeIncident {
		t.Errorf("an undefaulted incident's type is %q", typ)
	}
	if kind := (PolicyReference{Name: "desk"}).KindOrDefault(); kind != KindEscalationPolicy {
		t.Errorf("a reference without a kind names %q", kind)
	}
	if kind := (PolicyReference{Name: "audit", Kind: KindClusterEscalationPolicy}).KindOrDefault(); kind != KindClusterEscalationPolicy {
		t.Errorf("a cluster reference names %q", kind)
	}
}

// Every field of ImpactMatch is one of ImpactFlagFields, under its JSON name, each
// judged on the incident's flag of the same name: a flag added to the API
// and not to ImpactFlagFields would be ignored by routing and by regimes.
func TestImpactMatchFlagsCoverEveryField(t *testing.T) {
	matchType, impactType := reflect.TypeFor[ImpactMatch](), reflect.TypeFor[Impact]()
	var names []string
	for i := range matchType.NumField() {
		name, _, _ := strings.Cut(matchType.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
		// Asking for true of one flag alone holds exactly when the
		// incident has that flag.
		m, impact := ImpactMatch{}, Impact{}
		reflect.ValueOf(&m).Elem().Field(i).Set(reflect.ValueOf(ptr(true)))
		if m.Matches(impact) {
			t.Errorf("%s: true matches an incident without it", name)
		}
		for j := range impactType.NumField() {
			if jn, _, _ := strings.Cut(impactType.Field(j).Tag.Get("json"), ","); jn == name {
				reflect.ValueOf(&impact).Elem().Field(j).SetBool(true)
			}
		}
		if !m.Matches(impact) {
			t.Errorf("%s: true does not match an incident with it", name)
		}
	}
	var flags []string
	for _, f := range ImpactFlagFields {
		flags = append(flags, f.Name)
	}
	if !slices.Equal(flags, names) {
		t.Errorf("ImpactFlagFields names %v, ImpactMatch has %v", flags, names)
	}
}

func ptr[T any](v T) *T { return &v }
