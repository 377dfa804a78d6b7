package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
)

// A PolicyTest in the cluster runs again when a policy of its namespace
// changes: a department's policy that catches personal data and does not
// continue, applied at a higher priority, is flagged within seconds, with
// Ready=False naming the case and the invariant it breaks, a Warning and
// the failures metric; taking it away makes the test pass again.
func TestPolicyTestFlagsABreakingPolicyChange(t *testing.T) {
	ns := newNamespace(t)
	personal := securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{PersonalData: ptr.To(true)}}
	audit := webhookPolicy(ns, "internal-audit", 100, "audit-hook", personal)
	audit.Spec.Continue = true
	create(t, audit)
	create(t, webhookPolicy(ns, "everyone-else", -100, "managers-hook", securityv1alpha1.PolicyMatch{}))
	test := &securityv1alpha1.PolicyTest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "audit-rules"},
		Spec: securityv1alpha1.PolicyTestSpec{
			Cases: []securityv1alpha1.PolicyTestCase{{
				Name:       "a lost laptop with personal data reaches Internal Audit",
				ReportedAt: metav1.NewTime(time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC)),
				Incident: securityv1alpha1.IncidentTemplate{Spec: securityv1alpha1.IncidentSpec{Title: "Laptop lost", Category: securityv1alpha1.CategoryLoss,
					Severity: securityv1alpha1.SeverityHigh, Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Priya"}},
					Impact: securityv1alpha1.Impact{PersonalData: true}}},
				Expect: securityv1alpha1.PolicyTestExpect{Policies: []string{"internal-audit", "everyone-else"},
					Notified: []securityv1alpha1.ExpectedDelivery{{Policy: "internal-audit", Receiver: "hook", Level: ptr.To[int32](0), After: securityv1alpha1.NewDuration(0)}}},
			}},
			Invariants: []securityv1alpha1.PolicyInvariant{{
				Name: "every personal-data breach reaches Internal Audit", When: personal,
				Told: &securityv1alpha1.InvariantTarget{Policy: "internal-audit", Receiver: "hook", Level: ptr.To[int32](0)},
			}},
		},
	}
	create(t, test)
	conditions := func() []metav1.Condition {
		got := &securityv1alpha1.PolicyTest{}
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(test), got); err != nil {
			t.Fatal(err)
		}
		return got.Status.Conditions
	}
	waitForCondition(t, test, conditions, securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")

	start := time.Now()
	stop := webhookPolicy(ns, "finance-keeps-its-own", 300, "finance-hook", personal)
	create(t, stop)
	c := waitForCondition(t, test, conditions, securityv1alpha1.ConditionReady, metav1.ConditionFalse, controllers.ReasonCaseFailed)
	t.Logf("a breaking policy change was flagged %s after it was applied", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"2 of 2 fail", `case "a lost laptop with personal data reaches Internal Audit" fails`, "routed to [finance-keeps-its-own]"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Ready says %q, want it to say %q", c.Message, want)
		}
	}
	got := &securityv1alpha1.PolicyTest{}
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(test), got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Results) != 2 || got.Status.Results[1].Passed ||
		!strings.Contains(strings.Join(got.Status.Results[1].Differences, "\n"), "internal-audit would tell hook of internal-audit at level 0, but finance-keeps-its-own matched first and does not continue") {
		t.Errorf("results %+v", got.Status.Results)
	}
	waitForEvent(t, ns, test.Name, controllers.EventPolicyTestFailing, "Warning")
	eventually(t, 10*time.Second, func() error {
		if v := labelledGauge(t, "incidentops_policytest_failures", map[string]string{"namespace": ns, "name": test.Name}); v != 2 {
			return fmt.Errorf("incidentops_policytest_failures = %v, want 2", v)
		}
		return nil
	})

	if err := k8sClient.Delete(t.Context(), stop); err != nil {
		t.Fatal(err)
	}
	waitForCondition(t, test, conditions, securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
}

// labelledGauge reads the series of a gauge with these labels; -1 when
// there is none.
func labelledGauge(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue series
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// Each rule of a PolicyTest that the validation sweep cannot break on its
// own refuses the PolicyTest that breaks it, with its message (test/validation
// rulesDrivenElsewhere).
func TestPolicyTestRulesRefuseEachBrokenPart(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC))
	incident := securityv1alpha1.IncidentTemplate{Spec: securityv1alpha1.IncidentSpec{Title: "t", Category: securityv1alpha1.CategoryLoss,
		Severity: securityv1alpha1.SeverityLow, Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "R"}}}}
	withCase := func(edit func(*securityv1alpha1.PolicyTestCase)) securityv1alpha1.PolicyTestSpec {
		c := securityv1alpha1.PolicyTestCase{Name: "a case", ReportedAt: at, Incident: incident}
		edit(&c)
		return securityv1alpha1.PolicyTestSpec{Cases: []securityv1alpha1.PolicyTestCase{c}}
	}
	withInvariant := func(told, never *securityv1alpha1.InvariantTarget) securityv1alpha1.PolicyTestSpec {
		return securityv1alpha1.PolicyTestSpec{Invariants: []securityv1alpha1.PolicyInvariant{{Name: "a rule", Told: told, NeverTold: never}}}
	}
	for name, tc := range map[string]struct {
		spec securityv1alpha1.PolicyTestSpec
		rule string
	}{
		"nothing to run": {rule: "give at least one case or invariant"},
		"a step that does nothing": {spec: withCase(func(c *securityv1alpha1.PolicyTestCase) {
			c.Script = []securityv1alpha1.PolicyTestStep{{After: *securityv1alpha1.NewDuration(time.Hour)}}
		}), rule: "give exactly one of acknowledge and resolve"},
		"a delivery at a time and after a while": {spec: withCase(func(c *securityv1alpha1.PolicyTestCase) {
			c.Expect.Notified = []securityv1alpha1.ExpectedDelivery{{Receiver: "desk", At: &at, After: securityv1alpha1.NewDuration(0)}}
		}), rule: "give at or after, not both"},
		"an invariant both told and never told": {spec: withInvariant(&securityv1alpha1.InvariantTarget{Receiver: "a"}, &securityv1alpha1.InvariantTarget{Receiver: "b"}),
			rule: "give exactly one of told and neverTold"},
		"a target that is a receiver and a role": {spec: withInvariant(nil, &securityv1alpha1.InvariantTarget{Receiver: "a", Role: securityv1alpha1.RoleSupplier}),
			rule: "name exactly one of receiver and role"},
	} {
		test := &securityv1alpha1.PolicyTest{ObjectMeta: metav1.ObjectMeta{Namespace: "default", GenerateName: "rule-"}, Spec: tc.spec}
		refusedWith(t, name, k8sClient.Create(t.Context(), test, client.DryRunAll), tc.rule)
	}
}
