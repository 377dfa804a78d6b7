package bench_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// TestPolicyTestReaction measures how long after a breaking policy change
// is applied the PolicyTest that it breaks says so (Ready=False), and how
// long after it is taken back the test passes again, a few times, and
// prints the distribution.
func TestPolicyTestReaction(t *testing.T) {
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	ctx := context.Background()
	ns := newNamespace(t, "ptest")
	_, url := newSink(t)
	hookPolicy(t, ns, url, 0)
	personal := securityv1alpha1.PolicyMatch{Impact: &securityv1alpha1.ImpactMatch{PersonalData: ptr.To(true)}}
	test := &securityv1alpha1.PolicyTest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook-rule"},
		Spec: securityv1alpha1.PolicyTestSpec{Invariants: []securityv1alpha1.PolicyInvariant{{
			Name: "every personal-data breach reaches the hook", When: personal,
			Told: &securityv1alpha1.InvariantTarget{Receiver: "hook", Level: ptr.To[int32](0)},
		}}},
	}
	if err := k8sClient.Create(ctx, test); err != nil {
		t.Fatal(err)
	}
	startWatching(t, ns)
	ready := func(want metav1.ConditionStatus) func() bool {
		return func() bool {
			got := &securityv1alpha1.PolicyTest{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(test), got); err != nil {
				return false
			}
			c := meta.FindStatusCondition(got.Status.Conditions, securityv1alpha1.ConditionReady)
			return c != nil && c.Status == want && c.ObservedGeneration == got.Generation
		}
	}
	waitUntil(t, time.Minute, ready(metav1.ConditionTrue))
	var broken, mended []time.Duration
	for i := range rounds {
		stop := &securityv1alpha1.EscalationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("stops-first-%d", i)},
			// A webhook, not a role: the operator here has no SMTP server,
			// and a policy that would mail is left out of routing.
			Spec: securityv1alpha1.EscalationPolicySpec{Priority: 300, Match: personal,
				Receivers: []securityv1alpha1.Receiver{{Name: "department", Webhook: &securityv1alpha1.WebhookReceiver{
					URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hook", Key: "url"}}}},
				Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "department"}}}}}},
		}
		start := time.Now()
		if err := k8sClient.Create(ctx, stop); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, time.Minute, ready(metav1.ConditionFalse))
		broken = append(broken, time.Since(start))
		start = time.Now()
		if err := k8sClient.Delete(ctx, stop); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, time.Minute, ready(metav1.ConditionTrue))
		mended = append(mended, time.Since(start))
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nPOLICYTEST REACTION\trounds\tp50\tmax\n")
	for _, row := range []struct {
		name string
		d    distribution
	}{{"breaking policy applied → Ready=False", distributionOf(broken)}, {"breaking policy deleted → Ready=True", distributionOf(mended)}} {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", row.name, row.d.count, row.d.p50, row.d.max)
	}
	_ = tw.Flush()
}
