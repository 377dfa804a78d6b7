package policytest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// CaseOf is the case of a stored incident: reported when it was, in its
// namespace, with what people did and when (the acknowledgement and
// resolution the operator stamped), run until now.
func CaseOf(inc *securityv1alpha1.Incident, namespaceLabels map[string]string, now time.Time) *Case {
	reported := inc.ReportedAt()
	c := &Case{
		Name:            inc.Namespace + "/" + inc.Name,
		Namespace:       inc.Namespace,
		NamespaceLabels: namespaceLabels,
		ReportedAt:      metav1.NewTime(reported),
		Incident: IncidentTemplate{
			Metadata: securityv1alpha1.IncidentTemplateMetadata{Name: inc.Name, Labels: inc.Labels},
			Spec:     *inc.Spec.DeepCopy(),
		},
		Horizon: securityv1alpha1.NewDuration(max(now.Sub(reported), 0)),
	}
	c.Incident.Spec.Acknowledgement, c.Incident.Spec.Resolution = nil, nil
	st := &inc.Status
	if a := inc.Spec.Acknowledgement; a != nil && st.AcknowledgedAt != nil {
		c.Script = append(c.Script, Step{After: securityv1alpha1.Duration{Duration: st.AcknowledgedAt.Sub(reported)}, Acknowledge: a.DeepCopy()})
	}
	if r := inc.Spec.Resolution; r != nil && st.ResolvedAt != nil {
		c.Script = append(c.Script, Step{After: securityv1alpha1.Duration{Duration: st.ResolvedAt.Sub(reported)}, Resolve: r.DeepCopy()})
	}
	slices.SortStableFunc(c.Script, func(a, b Step) int { return cmp.Compare(a.After.Duration, b.After.Duration) })
	for i := range c.Script {
		c.Script[i].After.Duration = max(c.Script[i].After.Duration, 0)
	}
	return c
}

// Change is how one recipient's telling differs under the proposed
// policies.
type Change struct {
	// Who is a receiver, or a role and the address it reached.
	Who string
	// Was is when they were first told, zero when they were not; Would
	// when the proposed policies would first tell them, zero when not.
	Was, Would time.Time
}

// Dropped is true when someone told before would not be told at all.
func (c Change) Dropped() bool { return !c.Was.IsZero() && c.Would.IsZero() }

func (c Change) String() string {
	switch {
	case c.Dropped():
		return fmt.Sprintf("would not be told: %s (told %s)", c.Who, c.Was.UTC().Format(time.RFC3339))
	case c.Was.IsZero():
		return fmt.Sprintf("would be told: %s at %s", c.Who, c.Would.UTC().Format(time.RFC3339))
	case c.Would.After(c.Was):
		return fmt.Sprintf("told later: %s at %s, %s after %s", c.Who, c.Would.UTC().Format(time.RFC3339), c.Would.Sub(c.Was), c.Was.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("told earlier: %s at %s, %s before %s", c.Who, c.Would.UTC().Format(time.RFC3339), c.Was.Sub(c.Would), c.Was.UTC().Format(time.RFC3339))
}

// Replayed is what would change for one stored incident.
type Replayed struct {
	Incident *securityv1alpha1.Incident
	// Was and Would are the policies that routed it and would route it.
	Was, Would []string
	Changes    []Change
	Err        error
}

// tolerance is how much later a telling may come and still count as the
// same: the operator's clock runs in whole seconds and its reconciles
// take a moment.
const tolerance = time.Minute

// Replay runs a stored incident through the proposed policies and says
// who would have been told, not told, or told later, against whom the
// operator told. Notices count as well as alerts: each recipient's first
// telling is compared.
func Replay(ctx context.Context, objects *Objects, inc *securityv1alpha1.Incident, namespaceLabels map[string]string, now time.Time) Replayed {
	out := Replayed{Incident: inc}
	for _, ref := range inc.Status.Policies {
		out.Was = append(out.Was, ref.Name)
	}
	run, err := Simulate(ctx, objects, CaseOf(inc, namespaceLabels, now))
	if err != nil {
		out.Err = err
		return out
	}
	out.Would = run.Policies
	was := map[string]time.Time{}
	for _, rec := range inc.Status.Notifications {
		if rec.State != securityv1alpha1.DeliveryDelivered || rec.DeliveredAt == nil {
			continue
		}
		who := recipient(rec.Receiver, rec.Role, rec.Recipient)
		if t, ok := was[who]; !ok || rec.DeliveredAt.Time.Before(t) {
			was[who] = rec.DeliveredAt.Time
		}
	}
	would := map[string]time.Time{}
	for _, t := range run.Told {
		who := recipient(t.Receiver, t.Role, t.Recipient)
		if at, ok := would[who]; !ok || t.At.Before(at) {
			would[who] = t.At
		}
	}
	for who, at := range was {
		w, ok := would[who]
		switch {
		case !ok:
			out.Changes = append(out.Changes, Change{Who: who, Was: at})
		case w.Sub(at) > tolerance || at.Sub(w) > tolerance:
			out.Changes = append(out.Changes, Change{Who: who, Was: at, Would: w})
		}
	}
	for who, at := range would {
		if _, ok := was[who]; !ok {
			out.Changes = append(out.Changes, Change{Who: who, Would: at})
		}
	}
	slices.SortFunc(out.Changes, func(a, b Change) int { return strings.Compare(a.Who, b.Who) })
	return out
}

// recipient names who was told: a receiver by name, someone reached by
// role by role and address.
func recipient(receiver string, role securityv1alpha1.Role, address string) string {
	if role != "" {
		return fmt.Sprintf("role %s <%s>", role, address)
	}
	return receiver
}
