package controllers_test

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// TestAPIServerRejectsInvalidObjects creates bad objects against the real API
// server and checks the error names the field and says what is wrong.
func TestAPIServerRejectsInvalidObjects(t *testing.T) {
	ns := newNamespace(t)
	cases := map[string]struct {
		obj  client.Object
		want []string
	}{
		"incident without category": {
			obj: func() client.Object {
				i := newIncident(ns, "no-category", "", securityv1alpha1.SeverityLow)
				return i
			}(),
			want: []string{"spec.category"},
		},
		"incident with unknown severity": {
			obj:  newIncident(ns, "bad-severity", securityv1alpha1.CategoryMalware, "Catastrophic"),
			want: []string{"spec.severity", `"Catastrophic"`, "Low", "Critical"},
		},
		"incident with unknown category": {
			obj:  newIncident(ns, "bad-category", "Burglary", securityv1alpha1.SeverityLow),
			want: []string{"spec.category", `"Burglary"`},
		},
		"incident with empty title": {
			obj: func() client.Object {
				i := newIncident(ns, "no-title", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityLow)
				i.Spec.Title = ""
				return i
			}(),
			want: []string{"spec.title"},
		},
		"special-category data without personal data": {
			obj: func() client.Object {
				i := newIncident(ns, "special", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
				i.Spec.Impact.SpecialCategoryData = true
				return i
			}(),
			want: []string{"spec.impact.personalData", "specialCategoryData is personal data"},
		},
		"negative data subjects": {
			obj: func() client.Object {
				i := newIncident(ns, "negative", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityLow)
				i.Spec.Impact.DataSubjects = ptr.To[int32](-1)
				return i
			}(),
			want: []string{"spec.impact.dataSubjects"},
		},
		"reporter with a malformed email": {
			obj: func() client.Object {
				i := newIncident(ns, "bad-email", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityLow)
				i.Spec.Reporter.Email = "priya at example"
				return i
			}(),
			want: []string{"spec.reporter.email"},
		},
		"incident naming an invalid asset name": {
			obj: func() client.Object {
				i := newIncident(ns, "bad-asset", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityLow)
				i.Spec.Assets = []string{"Laptop 42"}
				return i
			}(),
			want: []string{"spec.assets[0]"},
		},
		"asset supplier via named contact without one": {
			obj: func() client.Object {
				a := newAsset(ns, "mis")
				a.Spec.Supplier = &securityv1alpha1.Supplier{Name: "Walsall MBC", ContactVia: securityv1alpha1.ContactNamedContact}
				return a
			}(),
			want: []string{"spec.supplier", "namedContact is required when contactVia is NamedContact"},
		},
		"asset supplier contacted directly without a help desk": {
			obj: func() client.Object {
				a := newAsset(ns, "direct")
				a.Spec.Supplier = &securityv1alpha1.Supplier{Name: "CaseWorks", ContactVia: securityv1alpha1.ContactDirect}
				return a
			}(),
			want: []string{"spec.supplier", "helpDesk is required"},
		},
		"asset of unknown type": {
			obj: func() client.Object {
				a := newAsset(ns, "toaster")
				a.Spec.Type = "Toaster"
				return a
			}(),
			want: []string{"spec.type", `"Toaster"`},
		},
		"policy notifying an undeclared receiver": {
			obj: func() client.Object {
				p := webhookPolicy(ns, "typo", 0, "hook", securityv1alpha1.PolicyMatch{})
				p.Spec.Escalation.Levels[0].Notify[0].Receiver = "servce-desk"
				return p
			}(),
			want: []string{"spec.escalation", "must name one of spec.receivers"},
		},
		"policy receiver without a channel": {
			obj: func() client.Object {
				p := webhookPolicy(ns, "no-channel", 0, "hook", securityv1alpha1.PolicyMatch{})
				p.Spec.Receivers[0].Webhook = nil
				return p
			}(),
			want: []string{"spec.receivers[0]", "a receiver needs exactly one channel"},
		},
		"policy receiver with two channels": {
			obj: func() client.Object {
				p := webhookPolicy(ns, "two-channels", 0, "hook", securityv1alpha1.PolicyMatch{})
				p.Spec.Receivers[0].Slack = &securityv1alpha1.ChatReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "s", Key: "url"}}
				return p
			}(),
			want: []string{"spec.receivers[0]", "exactly one channel"},
		},
		"policy with no escalation levels": {
			obj: func() client.Object {
				p := webhookPolicy(ns, "no-levels", 0, "hook", securityv1alpha1.PolicyMatch{})
				p.Spec.Escalation.Levels = nil
				return p
			}(),
			want: []string{"spec.escalation.levels"},
		},
		"policy with an out-of-range priority": {
			obj:  webhookPolicy(ns, "too-high", 5000, "hook", securityv1alpha1.PolicyMatch{}),
			want: []string{"spec.priority", "1000"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := k8sClient.Create(t.Context(), tc.obj)
			if err == nil {
				t.Fatal("the API server accepted the object")
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("error is not Invalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err.Error(), w)
				}
			}
		})
	}
}

func TestAwareAtCannotBeChanged(t *testing.T) {
	ns := newNamespace(t)
	inc := newIncident(ns, "aware", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityLow)
	aware := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	inc.Spec.AwareAt = &aware
	create(t, inc)
	later := metav1.NewTime(aware.Add(30 * time.Minute))
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		inc = getIncident(t, ns, "aware")
		inc.Spec.AwareAt = &later
		return k8sClient.Update(t.Context(), inc)
	})
	if err == nil || !strings.Contains(err.Error(), "spec.awareAt") || !strings.Contains(err.Error(), "cannot be changed") {
		t.Fatalf("update of awareAt gave %v, want a rejection naming spec.awareAt", err)
	}

	// The operator starts the clocks from spec.awareAt, not the creation time.
	stored := getIncident(t, ns, "aware")
	eventually(t, 20*time.Second, func() error {
		stored = getIncident(t, ns, "aware")
		if stored.Status.AwareAt == nil {
			return errorf("status.awareAt not set yet")
		}
		return nil
	})
	if !stored.Status.AwareAt.Equal(&aware) {
		t.Errorf("status.awareAt = %v, want spec.awareAt %v", stored.Status.AwareAt, aware)
	}
}
