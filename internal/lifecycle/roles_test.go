package lifecycle

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// While a line manager or department manager is absent, the first deputy
// of the reporter's Department who is not absent is told in their place,
// and the record says whom they stand in for (SH 4.2).
func TestDeputiesStandInForAbsentManagers(t *testing.T) {
	contact := func(name string) securityv1alpha1.Contact {
		return securityv1alpha1.Contact{Name: name, Email: strings.ToLower(name) + "@example.org"}
	}
	away := func(name string, from, until time.Time) securityv1alpha1.Absence {
		return securityv1alpha1.Absence{Email: strings.ToLower(name) + "@example.org", From: metav1.NewTime(from), Until: metav1.NewTime(until)}
	}
	department := func(absences ...securityv1alpha1.Absence) *securityv1alpha1.Department {
		return &securityv1alpha1.Department{Spec: securityv1alpha1.DepartmentSpec{
			Name: "Finance", Managers: []securityv1alpha1.Contact{contact("Head")},
			Deputies: []securityv1alpha1.Contact{contact("Dep1"), contact("Dep2")}, Absences: absences,
		}}
	}
	week := routed.AddDate(0, 0, 7)
	tests := map[string]struct {
		role       securityv1alpha1.Role
		department *securityv1alpha1.Department
		want       string
		event      string
	}{
		"line manager present":                  {role: securityv1alpha1.RoleLineManager, department: department(), want: "bob@example.org"},
		"no department declared":                {role: securityv1alpha1.RoleLineManager, want: "bob@example.org"},
		"line manager absent: the first deputy": {role: securityv1alpha1.RoleLineManager, department: department(away("Bob", routed.Add(-time.Hour), week)), want: "dep1@example.org for Bob <bob@example.org>, absent until 2026-03-09T09:00:00Z"},
		"absence over: the line manager again":  {role: securityv1alpha1.RoleLineManager, department: department(away("Bob", routed.Add(-48*time.Hour), routed)), want: "bob@example.org"},
		"absence not begun":                     {role: securityv1alpha1.RoleLineManager, department: department(away("Bob", routed.Add(time.Minute), week)), want: "bob@example.org"},
		"first deputy away too: the second": {role: securityv1alpha1.RoleLineManager, department: department(away("Bob", routed, week), away("Dep1", routed, week)),
			want: "dep2@example.org for Bob <bob@example.org>, absent until 2026-03-09T09:00:00Z"},
		"every deputy away: nobody, said": {role: securityv1alpha1.RoleLineManager, department: department(away("Bob", routed, week), away("Dep1", routed, week), away("Dep2", routed, week)),
			event: "NoDeputy"},
		"department manager":                {role: securityv1alpha1.RoleDepartmentManager, department: department(), want: "head@example.org"},
		"department manager absent":         {role: securityv1alpha1.RoleDepartmentManager, department: department(away("Head", routed, week)), want: "dep1@example.org for Head <head@example.org>, absent until 2026-03-09T09:00:00Z"},
		"department manager, none declared": {role: securityv1alpha1.RoleDepartmentManager},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inc := routedIncident("desk")
			inc.Spec.Reporter.Department = "Finance"
			policy := &securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "desk"}, Spec: securityv1alpha1.EscalationPolicySpec{
				Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{{Role: tc.role}}}}},
			}}
			out := Advance(Input{Now: routed, Incident: inc, Policies: map[string]*securityv1alpha1.EscalationPolicy{"desk": policy},
				Department: tc.department, ChannelOf: func(*securityv1alpha1.EscalationPolicy, string) string { return "email" }})
			var told []string
			for _, n := range inc.Status.Notifications {
				s := n.Recipient
				if n.StandsInFor != "" {
					s += " for " + n.StandsInFor
				}
				told = append(told, s)
			}
			if got := strings.Join(told, ", "); got != tc.want {
				t.Errorf("told %q, want %q", got, tc.want)
			}
			var reasons []string
			for _, e := range out.Events {
				reasons = append(reasons, e.Reason)
			}
			if tc.event != "" && !strings.Contains(fmt.Sprint(reasons), tc.event) {
				t.Errorf("events %v, want %s", reasons, tc.event)
			}
		})
	}
}
