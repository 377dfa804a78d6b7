package controllers_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// clientAs is a client that acts as user, who holds rules in ns and
// nothing else.
func clientAs(t *testing.T, ns, user string, rules []rbacv1.PolicyRule) client.Client {
	t.Helper()
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user}, Rules: rules})
	create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	})
	return impersonating(t, user)
}

// impersonating is a client that acts as user.
func impersonating(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(operator.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A policy author who may not read Secrets cannot make the operator read
// one for them: naming the database password as a PagerDuty routing key,
// with their own listener as the URL, sends them nothing, and the policy's
// status reads as it would for a Secret that does not exist.
func TestPolicyAuthorCannotExfiltrateASecret(t *testing.T) {
	ns := newNamespace(t)
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-credentials"},
		StringData: map[string]string{"password": "db-password-must-not-leave"},
	})
	mallory := clientAs(t, ns, "mallory", []rbacv1.PolicyRule{{
		APIGroups: []string{securityv1alpha1.GroupVersion.Group},
		Resources: []string{"escalationpolicies", "incidents"},
		Verbs:     []string{"get", "list", "create", "update"},
	}})
	err := mallory.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "db-credentials"}, &corev1.Secret{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("mallory reads Secrets (err %v): the test would prove nothing", err)
	}

	listener := newSink(t)
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "exfiltrate"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers: []securityv1alpha1.Receiver{{
				Name: "pd",
				PagerDuty: &securityv1alpha1.PagerDutyReceiver{
					URL:                 listener.URL + "/enqueue",
					RoutingKeySecretRef: securityv1alpha1.SecretKeyReference{Name: "db-credentials", Key: "password"},
				},
			}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "pd"}}}}},
		},
	}
	if err := mallory.Create(t.Context(), policy); err != nil {
		t.Fatalf("mallory creates the policy: %v", err)
	}
	c := waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonSecretNotFound)
	want := `spec.receivers[0].pagerDuty.routingKeySecretRef: receiver "pd": Secret ` + ns + `/db-credentials key "password" is not available to the operator: the Secret must exist, be labelled ` +
		securityv1alpha1.NotificationSecretLabel + `=true, and hold the key`
	if c.Message != want {
		t.Errorf("Ready says %q; want the words a missing Secret gets, %q", c.Message, want)
	}

	incident := newIncident(ns, "bait", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh)
	if err := mallory.Create(t.Context(), incident); err != nil {
		t.Fatal(err)
	}
	// The delivery is attempted and fails without the Secret being read.
	eventually(t, 20*time.Second, func() error {
		inc := getIncident(t, ns, "bait")
		for _, rec := range inc.Status.Notifications {
			if rec.Receiver == "pd" && rec.Attempts > 0 && strings.Contains(rec.LastError, "not available to the operator") {
				return nil
			}
		}
		return errorf("no failed attempt to pd yet: %+v", inc.Status.Notifications)
	})
	if n := listener.Len(); n != 0 {
		t.Errorf("the listener received %d requests, with the Secret's value as routing_key; want none", n)
	}
}

// A policy may not name a URL of its own outside the destinations the
// operator's administrator allows, such as a cloud metadata address.
func TestPolicyURLOutsideTheAllowedDestinationsIsNotReady(t *testing.T) {
	ns := newNamespace(t)
	webhookSecret(t, ns, "pd", "routing-key")
	policy := webhookPolicy(ns, "metadata", 0, "pd", securityv1alpha1.PolicyMatch{})
	policy.Spec.Receivers = []securityv1alpha1.Receiver{{
		Name: "hook",
		PagerDuty: &securityv1alpha1.PagerDutyReceiver{
			URL:                 "http://169.254.169.254/latest/meta-data/",
			RoutingKeySecretRef: securityv1alpha1.SecretKeyReference{Name: "pd", Key: "url"},
		},
	}}
	create(t, policy)
	c := waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionFalse, "DestinationNotAllowed")
	if !strings.Contains(c.Message, "spec.receivers[0].pagerDuty.url") {
		t.Errorf("message %q should name the field", c.Message)
	}
}
