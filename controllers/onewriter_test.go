package controllers_test

import (
	"context"
	"fmt"
	"os"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/notify"
)

// forgeNotReady writes, as someone other than the operator would, that a
// cluster policy cannot be used.
func forgeNotReady(t *testing.T, policy *securityv1alpha1.ClusterEscalationPolicy) {
	t.Helper()
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(policy), policy); err != nil {
		t.Fatal(err)
	}
	before := policy.DeepCopy()
	meta.SetStatusCondition(&policy.Status.Conditions, metav1.Condition{
		Type: securityv1alpha1.ConditionReady, Status: metav1.ConditionFalse, ObservedGeneration: policy.Generation,
		Reason: securityv1alpha1.ReasonChannelNotConfigured, Message: "written by another operator without SMTP",
	})
	if err := k8sClient.Status().Patch(t.Context(), policy, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
}

// A protected cluster policy's status, rewritten as not Ready by someone
// else, is neither obeyed by routing (the next personal-data breach still
// reaches the DPO) nor left standing (the operator judges it again and
// writes what it found).
func TestForeignReadinessIsNeitherObeyedNorKept(t *testing.T) {
	scope, s, secret := councilReceiver(t)
	dpo := clusterWebhookPolicy("dpo-"+scope, 10, scope, secret, true)
	create(t, dpo)
	deleteAtEnd(t, dpo)
	waitForCondition(t, dpo, func() []metav1.Condition { return dpo.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")

	ns := scopedNamespace(t, scope)
	forgeNotReady(t, dpo)
	create(t, newIncident(ns, "breach", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh))
	if refs := waitRouted(t, ns, "breach").Status.Policies; len(refs) != 1 || refs[0].Name != dpo.Name {
		t.Errorf("routed to %+v, want the protected policy whatever its status said", refs)
	}
	waitForCondition(t, dpo, func() []metav1.Condition { return dpo.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	eventually(t, 20*time.Second, func() error {
		for _, d := range s.Deliveries() {
			if d.Message.Incident.Name == "breach" && d.Message.Incident.Namespace == ns {
				return nil
			}
		}
		return errorf("the DPO was not told")
	})
}

// An operator that watches one namespace, without SMTP, beside a cluster
// whose protected policy mails the DPO: it never writes the cluster
// policy's status (that is the cluster-wide operator's judgement), and it
// never leaves the protected policy out. The incident says, with a
// Warning, that the policy routes it though this operator cannot run all of
// it, and what cannot be mailed goes to the policy's fallback receiver.
func TestNamespacedOperatorKeepsProtectedPoliciesAndWritesNoClusterStatus(t *testing.T) {
	scope, s, secret := councilReceiver(t)
	dpo := clusterWebhookPolicy("dpo-mail-"+scope, 10, scope, secret, true)
	dpo.Spec.Receivers = append(dpo.Spec.Receivers, securityv1alpha1.Receiver{
		Name: "dpo-mailbox", Email: &securityv1alpha1.EmailReceiver{To: []string{"dpo@council.example.org"}},
	})
	dpo.Spec.Escalation.Levels[0].Notify = []securityv1alpha1.NotifyTarget{{Receiver: "dpo-mailbox"}}
	dpo.Spec.Delivery = &securityv1alpha1.Delivery{MaxAttempts: 1, FallbackReceiver: "hook"}
	create(t, dpo)
	deleteAtEnd(t, dpo)
	waitForCondition(t, dpo, func() []metav1.Condition { return dpo.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	ns := scopedNamespace(t, scope)

	operator.stop()
	t.Cleanup(func() {
		if err := operator.start(); err != nil {
			t.Error(err)
		}
	})
	// Without SMTP, so that the mailbox receiver is one it cannot use.
	startScopedOperator(t, ns, controllers.Options{Egress: notify.Egress{AllowLoopback: true}, LogKey: logKey, LogOrigin: logKeySetup.Origin})
	written := dpo.ResourceVersion

	create(t, newIncident(ns, "breach", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh))
	if refs := waitRouted(t, ns, "breach").Status.Policies; len(refs) != 1 || refs[0].Name != dpo.Name {
		t.Errorf("routed to %+v, want the protected policy", refs)
	}
	eventually(t, 20*time.Second, func() error {
		var notes []string
		for _, e := range eventsFor(t, ns, "breach", controllers.EventPolicyNotEvaluated) {
			if e.Type == "Warning" && strings.Contains(e.Note, "protected ClusterEscalationPolicy "+dpo.Name) && strings.Contains(e.Note, "fallback") {
				return nil
			}
			notes = append(notes, e.Note)
		}
		return errorf("no Warning that the protected policy routes though it cannot run all of it; the warnings say %q", notes)
	})
	eventually(t, 20*time.Second, func() error {
		for _, d := range s.Deliveries() {
			if d.Message.Incident.Name == "breach" && d.Message.FallbackFor == "dpo-mailbox" {
				return nil
			}
		}
		return errorf("the fallback receiver was not told in the mailbox's place")
	})
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(dpo), dpo); err != nil {
		t.Fatal(err)
	}
	if dpo.ResourceVersion != written {
		t.Errorf("the namespaced operator wrote the cluster policy: %+v", dpo.Status.Conditions)
	}
	if c := meta.FindStatusCondition(dpo.Status.Conditions, securityv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("the cluster policy's Ready is %+v, want True as the cluster-wide operator judged it", c)
	}
}

// startScopedOperator runs the operator's controllers for ns alone, as its
// ServiceAccount, as --watch-namespaces=ns does, with opts (its clock,
// backoff, namespaces and the operator's namespace filled in) and the
// runnables made for its manager, until the test ends or stop is called.
func startScopedOperator(t *testing.T, ns string, opts controllers.Options, runnables ...func(ctrl.Manager) manager.Runnable) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(operator.account, ctrl.Options{
		Scheme:     operator.scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}, DefaultTransform: cache.TransformStripManagedFields()},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	opts.Clock = operatorClock
	opts.Backoff = delivery.Backoff{Initial: 200 * time.Millisecond, Max: time.Second}
	opts.OperatorNamespace = operatorNamespace
	opts.WatchNamespaces = []string{ns}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		cancel()
		t.Fatal(err)
	}
	for _, runnable := range runnables {
		if err := mgr.Add(runnable(mgr)); err != nil {
			cancel()
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}
