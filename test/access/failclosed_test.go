package access_test

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Without a mutating policy's binding (a partial install, an upgrade in
// progress), every record it would have written is refused, whoever sends
// it and whatever account or groups it claims: records fail closed. Each
// binding is removed in turn; every attempt of the table that its policy
// stamps is made again, and must be refused by a validating policy.
func TestRecordsFailClosedWithoutEachMutatingBinding(t *testing.T) {
	var bindings admissionregistrationv1.MutatingAdmissionPolicyBindingList
	if err := admin.List(context.Background(), &bindings); err != nil {
		t.Fatal(err)
	}
	if len(bindings.Items) == 0 {
		t.Fatal("no MutatingAdmissionPolicyBindings installed: the test would prove nothing")
	}
	stamped := map[string][]attempt{}
	for _, a := range attempts() {
		if a.check != nil && a.what != "spec.changes alone, forged" && a.what != "remove the legal-hold label" {
			stamped[a.kind] = append(stamped[a.kind], a)
		}
	}
	for _, binding := range bindings.Items {
		t.Run(binding.Name, func(t *testing.T) {
			var policy admissionregistrationv1.MutatingAdmissionPolicy
			if err := admin.Get(context.Background(), client.ObjectKey{Name: binding.Spec.PolicyName}, &policy); err != nil {
				t.Fatal(err)
			}
			kind := map[string]string{"incidents": "Incident", "evidences": "Evidence", "incidentreports": "IncidentReport", "filings": "Filing"}[policy.Spec.MatchConstraints.ResourceRules[0].Resources[0]]
			rows := stamped[kind]
			if len(rows) == 0 {
				t.Fatalf("no attempt of the table is stamped by %s", policy.Name)
			}
			// Each attempt's objects are made, and its role bound, while
			// the binding is in place.
			type prepared struct {
				a attempt
				r role
				c client.Client
				f fixture
			}
			var ready []prepared
			for i, a := range rows {
				// The first role the table allows the write, other than the
				// cluster administrator.
				var r role
				for _, candidate := range roles {
					if a.want[candidate.name] == allowed {
						r = candidate
						break
					}
				}
				ns := namespaceFor(t, "unbound-"+strings.ToLower(kind)+"-"+string(rune('a'+i)))
				ready = append(ready, prepared{a: a, r: r, c: as(t, ns, r), f: a.prepare(t, ns)})
			}
			probe := ready[0]
			removeUntilRefused(t, binding.DeepCopy(), func(ctx context.Context) error {
				return probe.a.do(ctx, client.NewDryRunClient(probe.c), probe.f)
			})
			for _, p := range ready {
				err := p.a.do(context.Background(), p.c, p.f)
				if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy") {
					t.Errorf("without %s, %s %s %q as %s: %v; want refused by a validating policy", binding.Name, p.a.kind, p.a.path, p.a.what, p.r.name, err)
				}
			}
			if kind == "Incident" {
				// The right name with forged groups is refused too.
				ns := namespaceFor(t, "unbound-incident-groups")
				inc := plainIncident(ns, "forged-groups")
				inc.Spec.ReportedBy = &securityv1alpha1.Attestation{Username: reporter.name, Groups: []string{"system:masters", "system:authenticated"}}
				err := as(t, ns, reporter).Create(context.Background(), inc)
				if err == nil || !strings.Contains(err.Error(), "spec.reportedBy must be the account that reports the incident, with its groups") {
					t.Errorf("without %s, a report claiming its reporter's name with forged groups: %v; want refused", binding.Name, err)
				}
			}
			t.Logf("without %s: %d stamped writes refused", binding.Name, len(ready))
		})
	}
}

// removeUntilRefused deletes binding, puts it back when the test ends, and
// waits until attempt, tried once the removal takes effect, is refused by
// a validating policy; it fails the test if that never happens.
func removeUntilRefused(t *testing.T, binding *admissionregistrationv1.MutatingAdmissionPolicyBinding, attempt func(context.Context) error) {
	t.Helper()
	ctx := context.Background()
	if err := admin.Delete(ctx, binding); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		restored := &admissionregistrationv1.MutatingAdmissionPolicyBinding{}
		restored.Name, restored.Spec = binding.Name, binding.Spec
		if err := admin.Create(ctx, restored); err != nil {
			t.Errorf("restoring %s: %v", binding.Name, err)
		}
		// The next test needs the binding in force again.
		time.Sleep(3 * time.Second)
	})
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last = attempt(ctx)
		return last != nil && strings.Contains(last.Error(), "ValidatingAdmissionPolicy"), nil
	})
	if err != nil {
		t.Fatalf("without %s, the first stamped write was not refused: %v", binding.Name, last)
	}
}
