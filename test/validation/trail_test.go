package validation_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
)

// trailKey signs the sweep's trails. The operator's own key is not needed:
// the verifier finds an entry the API server stored but the chain does
// not hold from the hashes alone.
var trailKey = audit.Key{ID: "2026-01-01-sweep", Secret: []byte(strings.Repeat("k", audit.MinKeySize))}

// trailSubject is what the sweep's trails record.
var trailSubject = securityv1alpha1.AuditSubject{Kind: "Incident", Name: "lost-laptop-fin-0142", UID: "0b6f7c1e-3d2a-4c55-9a1b-5e8f2d7c9a10"}

// auditTrailBase is a trail of two entries of trailSubject in namespace
// ns, chained and signed as the operator chains and signs them.
func auditTrailBase(t *testing.T, ns string) map[string]any {
	chain := audit.NewChain(ns, trailSubject, nil)
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	trail := &securityv1alpha1.AuditTrail{
		Spec: securityv1alpha1.AuditTrailSpec{Subject: trailSubject, Entries: []securityv1alpha1.AuditEntry{
			chain.Append(trailKey, at, securityv1alpha1.AuditActor{Username: "jo", Groups: []string{"system:authenticated"}}, securityv1alpha1.AuditReported,
				map[string]string{"title": "Finance laptop left on a train"}),
			chain.Append(trailKey, at.Add(time.Minute), securityv1alpha1.AuditActor{Operator: true}, securityv1alpha1.AuditRouted,
				map[string]string{"policies": "it-service-desk"}),
		}},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(trail)
	if err != nil {
		t.Fatal(err)
	}
	delete(obj, "status")
	obj["metadata"] = map[string]any{"name": "lost-laptop-fin-0142-0"}
	return obj
}

// judgeTrail decides a stored trail case by verifying the trail as
// `kubectl incident audit verify` does: the verifier must break the trail
// at the entry the case changed, or at its first entry when the case
// changed the subject the chain begins from.
func judgeTrail(ctx context.Context, k *kind, o *outcome, ns string) {
	stored := object(k, nil, ns, o.name)
	trail := &securityv1alpha1.AuditTrail{}
	err := k8sClient.Get(ctx, client.ObjectKeyFromObject(stored), stored)
	if err == nil {
		err = runtime.DefaultUnstructuredConverter.FromUnstructured(stored.Object, trail)
	}
	if err != nil {
		o.verdict, o.answer = failed, "stored, then: "+err.Error()
		return
	}
	// The trail alone, as the segments of its subject: a segment that is
	// not where its entries belong does not join the others.
	var problems []problem
	if _, err := audit.Entries([]securityv1alpha1.AuditTrail{*trail}); err != nil {
		problems = []problem{{field: "spec.segment", message: err.Error()}, {field: "spec.entries", message: err.Error()}}
		o.answer = "audit verify: " + err.Error()
	} else {
		// Against the subject the trail names: a trail that names another
		// subject than its chain begins from does not verify.
		_, err = audit.Verify(ns, trail.Spec.Subject, trail.Spec.Entries, audit.VerifyOptions{})
		var broken *audit.BrokenError
		if !errors.As(err, &broken) {
			o.verdict, o.answer = silent, fmt.Sprintf("stored; the trail verifies: %v", err)
			return
		}
		problems = []problem{{field: fmt.Sprintf("spec.entries[%d]", broken.Sequence), message: broken.Reason}}
		if broken.Sequence == 0 && strings.Contains(broken.Reason, "does not begin the trail") {
			problems = append(problems, problem{field: "spec.subject", message: broken.Reason})
		}
		o.answer = "audit verify: " + err.Error()
	}
	o.verdict = reportedOther
	for _, p := range problems {
		if p.field == o.c.field || below(o.c.field, p.field) {
			o.verdict = reported
		}
	}
}

// The trail the sweep starts from verifies, so that a case the verifier
// breaks is broken by its own value.
func TestAuditTrailBaseVerifies(t *testing.T) {
	base := auditTrailBase(t, "ns")
	trail := &securityv1alpha1.AuditTrail{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(base, trail); err != nil {
		t.Fatal(err)
	}
	keys, err := audit.NewKeyRing(trailKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify("ns", trailSubject, trail.Spec.Entries, audit.VerifyOptions{Keys: keys}); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify("another-ns", trailSubject, trail.Spec.Entries, audit.VerifyOptions{}); err == nil {
		t.Error("a trail verifies in a namespace it was not chained for")
	}
}
