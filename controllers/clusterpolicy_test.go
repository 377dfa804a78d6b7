package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// clusterWebhookPolicy is a cluster policy for the namespaces labelled
// scope=value, with one webhook receiver whose Secret is in the operator's
// namespace.
func clusterWebhookPolicy(name string, priority int32, scope, secret string, protected bool) *securityv1alpha1.ClusterEscalationPolicy {
	p := webhookPolicy("", name, priority, secret, securityv1alpha1.PolicyMatch{})
	p.Spec.Continue = true
	return &securityv1alpha1.ClusterEscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: securityv1alpha1.ClusterEscalationPolicySpec{
			EscalationPolicySpec: p.Spec,
			NamespaceSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"incidentops.test/scope": scope}},
			Protected:            protected,
		},
	}
}

// scopedNamespace is a new namespace labelled scope=value, or unlabelled
// for "".
func scopedNamespace(t *testing.T, scope string) string {
	t.Helper()
	ns := newNamespace(t)
	if scope != "" {
		labelNamespace(t, ns, scope)
	}
	return ns
}

func labelNamespace(t *testing.T, name, scope string) {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: name}, ns); err != nil {
		t.Fatal(err)
	}
	update(t, ns, func(n *corev1.Namespace) { n.Labels["incidentops.test/scope"] = scope })
}

// uniqueScope keeps one test's cluster policies away from every other
// test's namespaces.
func uniqueScope(t *testing.T) string {
	return fmt.Sprintf("s%d", time.Now().UnixNano()%1_000_000_000)
}

// councilReceiver is a scope of this test's own, and a sink with its
// Secret in the operator's namespace, where cluster policies read it.
func councilReceiver(t *testing.T) (scope string, s *testSink, secret string) {
	scope, s = uniqueScope(t), newSink(t)
	secret = "council-hook-" + scope
	webhookSecret(t, operatorNamespace, secret, s.URL)
	return scope, s, secret
}

func deleteAtEnd(t *testing.T, obj client.Object) {
	// t.Context() is already cancelled when cleanups run.
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), obj) })
}

func waitRouted(t *testing.T, ns, name string) *securityv1alpha1.Incident {
	t.Helper()
	var got *securityv1alpha1.Incident
	eventually(t, 20*time.Second, func() error {
		if got = getIncident(t, ns, name); len(got.Status.Policies) == 0 {
			return errorf("%s/%s not routed yet", ns, name)
		}
		return nil
	})
	return got
}

// A cluster policy routes the incidents of every namespace it selects, with
// its receivers' Secret in the operator's namespace, and none elsewhere; a
// namespace labelled later has its waiting incident routed.
func TestClusterPolicyRoutesTheNamespacesItSelects(t *testing.T) {
	scope, s, secret := councilReceiver(t)
	policy := clusterWebhookPolicy("council-desk-"+scope, 0, scope, secret, false)
	create(t, policy)
	deleteAtEnd(t, policy)
	waitForCondition(t, policy, func() []metav1.Condition { return policy.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	waitForKStatus(t, policy, status.CurrentStatus)

	finance, housing, outsider := scopedNamespace(t, scope), scopedNamespace(t, scope), scopedNamespace(t, "")
	for _, ns := range []string{finance, housing, outsider} {
		create(t, newIncident(ns, "laptop", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityMedium))
	}
	for _, ns := range []string{finance, housing} {
		refs := waitRouted(t, ns, "laptop").Status.Policies
		if len(refs) != 1 || refs[0].Kind != securityv1alpha1.KindClusterEscalationPolicy || refs[0].Name != policy.Name {
			t.Errorf("%s: routed to %+v, want the cluster policy", ns, refs)
		}
	}
	eventually(t, 20*time.Second, func() error {
		var seen []string
		for _, d := range s.Deliveries() {
			seen = append(seen, d.Message.Incident.Namespace)
		}
		if !slices.Contains(seen, finance) || !slices.Contains(seen, housing) {
			return errorf("the receiver was told of %v, want %s and %s", seen, finance, housing)
		}
		return nil
	})
	waiting := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: outsider, Name: "laptop"}}
	waitForCondition(t, waiting, func() []metav1.Condition { return waiting.Status.Conditions },
		securityv1alpha1.ConditionRouted, metav1.ConditionFalse, securityv1alpha1.ReasonNoMatchingPolicy)
	for _, d := range s.Deliveries() {
		if d.Message.Incident.Namespace == outsider {
			t.Errorf("an incident of an unselected namespace was notified: %+v", d.Message)
		}
	}
	if e := waitForEvent(t, housing, "laptop", "Routed", "Normal"); !strings.Contains(e.Note, "ClusterEscalationPolicy "+policy.Name) {
		t.Errorf("the Routed event says %q", e.Note)
	}

	// The namespace joins the council: its waiting incident is routed.
	labelNamespace(t, outsider, scope)
	if refs := waitRouted(t, outsider, "laptop").Status.Policies; refs[0].Name != policy.Name {
		t.Errorf("after labelling, routed to %+v", refs)
	}
}

// A department's policy that matches first with continue: false stops
// everything after it except a protected cluster policy; a namespace policy
// with the name of a cluster policy of its namespace is left out and says
// why.
func TestProtectedClusterPolicyCannotBeStopped(t *testing.T) {
	scope, s, secret := councilReceiver(t)
	audit := clusterWebhookPolicy("internal-audit-"+scope, 10, scope, secret, true)
	desk := clusterWebhookPolicy("service-desk-"+scope, 5, scope, secret, false)
	for _, p := range []*securityv1alpha1.ClusterEscalationPolicy{audit, desk} {
		create(t, p)
		deleteAtEnd(t, p)
		waitForCondition(t, p, func() []metav1.Condition { return p.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	}

	ns := scopedNamespace(t, scope)
	webhookSecret(t, ns, "own-hook", s.URL)
	stop := webhookPolicy(ns, "finance-only", 100, "own-hook", securityv1alpha1.PolicyMatch{})
	create(t, stop)
	impostor := webhookPolicy(ns, audit.Name, 50, "own-hook", securityv1alpha1.PolicyMatch{})
	create(t, impostor)
	waitForCondition(t, impostor, func() []metav1.Condition { return impostor.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionFalse, "NameTaken")

	create(t, newIncident(ns, "letter", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh))
	refs := waitRouted(t, ns, "letter").Status.Policies
	got := map[string]string{}
	for _, r := range refs {
		got[r.Name] = r.Kind
	}
	want := map[string]string{"finance-only": "", audit.Name: securityv1alpha1.KindClusterEscalationPolicy}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("routed to %v, want %v: the protected policy joins, the stopped service desk does not", got, want)
	}
	e := waitForEvent(t, ns, "letter", "PolicyNotEvaluated", "Warning")
	if !strings.Contains(e.Note, "EscalationPolicy "+audit.Name) || !strings.Contains(e.Note, "same name") {
		t.Errorf("the warning says %q", e.Note)
	}
	eventually(t, 20*time.Second, func() error {
		for _, d := range s.Deliveries() {
			if d.Message.Incident.Name == "letter" && d.Message.Policy == audit.Name {
				return nil
			}
		}
		return errorf("Internal Audit was not told")
	})
}

// A cluster policy's receivers read their Secret from the operator's
// namespace only: the same Secret in a department's namespace does not do.
func TestClusterPolicySecretsLiveInTheOperatorsNamespace(t *testing.T) {
	scope := uniqueScope(t)
	ns := scopedNamespace(t, scope)
	secret := "council-hook-" + scope
	webhookSecret(t, ns, secret, "http://127.0.0.1:1/")
	policy := clusterWebhookPolicy("council-secret-"+scope, 0, scope, secret, false)
	create(t, policy)
	deleteAtEnd(t, policy)
	c := waitForCondition(t, policy, func() []metav1.Condition { return policy.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonSecretNotFound)
	if !strings.Contains(c.Message, "spec.receivers[0]") || !strings.Contains(c.Message, operatorNamespace) {
		t.Errorf("the condition says %q, want the field and the operator's namespace", c.Message)
	}

	// A namespace selector that does not parse is named, and the policy
	// is left out of routing.
	broken := clusterWebhookPolicy("council-broken-"+scope, 0, scope, secret, false)
	broken.Spec.NamespaceSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Sometimes"}}
	create(t, broken)
	deleteAtEnd(t, broken)
	c = waitForCondition(t, broken, func() []metav1.Condition { return broken.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionFalse, "InvalidSelector")
	if !strings.Contains(c.Message, "spec.namespaceSelector") {
		t.Errorf("the condition says %q, want spec.namespaceSelector", c.Message)
	}
	waitForKStatus(t, broken, status.FailedStatus)
}

// Namespace users cannot create, change or delete cluster policies, not
// even a namespace's admin; the role meant for it, bound cluster-wide, can.
func TestNamespaceUsersCannotWriteClusterPolicies(t *testing.T) {
	scope := uniqueScope(t)
	ns := newNamespace(t)
	policy := clusterWebhookPolicy("by-user-"+scope, 0, scope, "none", false)
	for _, role := range []string{"admin", "edit", "incident-policy-admin"} {
		user := "user-" + role
		c := holding(t, ns, user, role)
		if err := c.Create(t.Context(), policy.DeepCopy()); !apierrors.IsForbidden(err) {
			t.Errorf("%s in %s created a cluster policy: %v", role, ns, err)
		}
	}
	create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "carol-" + scope},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "incident-cluster-policy-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "carol-" + scope}},
	})
	carol := impersonating(t, "carol-"+scope)
	created := policy.DeepCopy()
	if err := carol.Create(t.Context(), created); err != nil {
		t.Fatalf("the cluster policy admin was refused: %v", err)
	}
	deleteAtEnd(t, created)
	admin := holding(t, ns, "ns-admin-"+scope, "admin")
	if err := admin.Delete(t.Context(), created); !apierrors.IsForbidden(err) {
		t.Errorf("a namespace admin deleted a cluster policy: %v", err)
	}
}

// A cluster policy deleted while one of its deliveries is retried: the
// record and the event name the kind that is gone, so that nobody looks
// for it in the incident's namespace.
func TestDeletedClusterPolicyIsNamedByItsKind(t *testing.T) {
	scope := uniqueScope(t)
	policy := clusterWebhookPolicy("council-gone-"+scope, 0, scope, "missing-"+scope, false)
	policy.Spec.Delivery = &securityv1alpha1.Delivery{MaxAttempts: 100}
	create(t, policy)
	deleteAtEnd(t, policy)
	waitForCondition(t, policy, func() []metav1.Condition { return policy.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonSecretNotFound)

	ns := scopedNamespace(t, scope)
	create(t, newIncident(ns, "laptop", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityMedium))
	waitRouted(t, ns, "laptop")
	waitForEvent(t, ns, "laptop", "NotificationFailed", "Warning")
	if err := k8sClient.Delete(t.Context(), policy); err != nil {
		t.Fatal(err)
	}
	e := waitForEvent(t, ns, "laptop", "NotificationAbandoned", "Warning")
	if !strings.Contains(e.Note, "ClusterEscalationPolicy "+policy.Name+" no longer exists") {
		t.Errorf("the event says %q", e.Note)
	}
	// The event goes out before the status that records the same outcome.
	eventually(t, 20*time.Second, func() error {
		for _, n := range getIncident(t, ns, "laptop").Status.Notifications {
			if n.Policy == policy.Name && !strings.Contains(n.LastError, "ClusterEscalationPolicy "+policy.Name+" no longer exists") {
				return errorf("the record says %q", n.LastError)
			}
		}
		return nil
	})
}
