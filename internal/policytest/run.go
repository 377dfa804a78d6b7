package policytest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/apischema"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/lifecycle"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/routing"
	"github.com/incidentops/incident-operator/internal/routing/gather"
)

// Objects are what the policy files hold, as the API server would store
// them. Namespaced objects without a namespace go to each case's.
type Objects struct {
	// Env is the operator's settings policies are judged with; nil is
	// Environment(), an operator that may send everything.
	Env             *policycheck.Environment
	Policies        []*securityv1alpha1.EscalationPolicy
	ClusterPolicies []*securityv1alpha1.ClusterEscalationPolicy
	Assets          []*securityv1alpha1.Asset
	Departments     []*securityv1alpha1.Department
}

// Environment is the operator's settings the policies are checked
// against, as its Ready check judges them.
func Environment() policycheck.Environment {
	return policycheck.Environment{
		MailConfigured:   true,
		CheckDestination: func(string) error { return nil },
		Expression:       routing.ValidateExpression,
		Template:         notify.CheckTemplate,
	}
}

func (o *Objects) environment() policycheck.Environment {
	if o.Env != nil {
		return *o.Env
	}
	return Environment()
}

// Told is one delivery made during a run.
type Told struct {
	At          time.Time
	Policy      string
	Level       int32
	Receiver    string
	Role        securityv1alpha1.Role
	Recipient   string
	Channel     string
	Notice      string
	StandsInFor string
}

// Event is something a person did during a run.
type Event struct {
	At   time.Time
	What string
}

// Run is what happened to one case's incident.
type Run struct {
	Case *Case
	// Policies routed the incident, in routing order.
	Policies []string
	// Explained is how each policy that may route the namespace's
	// incidents stood against this one, clause by clause.
	Explained []routing.Explanation
	// Told are the deliveries, in the order they were made.
	Told []Told
	// Events are the script's steps, as they were taken.
	Events []Event
	// Incident is the incident at the end of the run.
	Incident *securityv1alpha1.Incident
	// Steps is how many times the lifecycle ran.
	Steps int
}

// maxSteps bounds a run: a policy whose levels repeat every minute for two
// weeks is 20,160 wakes.
const maxSteps = 100_000

// Simulate runs the case's incident through the operator's routing and
// lifecycle, every delivery succeeding at once, from its report to the
// case's horizon or until nothing more is due.
func Simulate(ctx context.Context, objects *Objects, c *Case) (*Run, error) {
	ns := c.Namespace
	if ns == "" {
		ns = "default"
	}
	reported := c.ReportedAt.Time.UTC()
	name := c.Incident.Metadata.Name
	if name == "" {
		name = "case"
	}
	incident := &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: c.Incident.Metadata.Labels, UID: "policy-test",
			Generation: 1, CreationTimestamp: metav1.NewTime(reported)},
		Spec: *c.Incident.Spec.DeepCopy(),
	}
	if err := admitIncident(incident); err != nil {
		return nil, err
	}
	reader, err := clusterOf(objects, ns, c.NamespaceLabels)
	if err != nil {
		return nil, err
	}
	in, err := gather.ForIncident(ctx, reader, incident)
	if err != nil {
		return nil, err
	}
	run := &Run{Case: c, Incident: incident}
	status := &incident.Status
	status.Phase = securityv1alpha1.PhasePending
	status.AwareAt = &metav1.Time{Time: incident.ReportedAwareAt()}

	// The policies the operator would route with: those its checks pass,
	// and protected cluster policies unless their own spec cannot work.
	ordered := routable(in.Candidates, routing.NewExpressionCache(), objects.environment())
	decision := routing.RouteWithAssets(incident, in.Assets, ordered)
	run.Explained = routing.Explain(incident, in.Assets, ordered)
	if len(decision.Matched) == 0 {
		status.Phase = securityv1alpha1.PhaseUnrouted
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: securityv1alpha1.ConditionRouted, Status: metav1.ConditionFalse,
			Reason: securityv1alpha1.ReasonNoMatchingPolicy, Message: "no policy matches this incident"})
		return run, nil
	}
	policies := map[string]*securityv1alpha1.EscalationPolicy{}
	for _, m := range decision.Matched {
		ref := routing.Reference(m, decision)
		status.Policies = append(status.Policies, ref)
		policies[m.Name] = in.Policy(ref)
		run.Policies = append(run.Policies, m.Name)
	}
	routedAt := securityv1alpha1.NewPreciseTime(reported)
	status.Phase, status.RoutedAt = securityv1alpha1.PhaseOpen, &routedAt
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: securityv1alpha1.ConditionRouted, Status: metav1.ConditionTrue,
		Reason: securityv1alpha1.ReasonMatched, Message: "routed"})

	horizon := DefaultHorizon
	if c.Horizon != nil {
		horizon = c.Horizon.Duration
	}
	end := reported.Add(horizon)
	script := c.Script
	now := reported
	for run.Steps = 1; run.Steps <= maxSteps; run.Steps++ {
		for len(script) > 0 && !reported.Add(script[0].After.Duration).After(now) {
			run.Events = append(run.Events, take(incident, script[0], reported.Add(script[0].After.Duration)))
			script = script[1:]
		}
		out := lifecycle.Advance(lifecycle.Input{
			Now: now, Incident: incident, Policies: policies, Assets: in.Assets, Department: in.Department, ChannelOf: delivery.ChannelOf,
		})
		records := status.Notifications
		for _, i := range delivery.Due(records, now) {
			rec := &records[i]
			delivery.Delivered(&rec.DeliveryAttempt, now)
			run.Told = append(run.Told, Told{At: now.Truncate(time.Second), Policy: rec.Policy, Level: rec.Level, Receiver: rec.Receiver,
				Role: rec.Role, Recipient: rec.Recipient, Channel: rec.Channel, Notice: rec.Notice, StandsInFor: rec.StandsInFor})
		}
		next := out.Wake
		if len(script) > 0 {
			if at := reported.Add(script[0].After.Duration); next.IsZero() || at.Before(next) {
				next = at
			}
		}
		if len(delivery.Due(status.Notifications, now)) > 0 {
			// Notices owed by this step's deliveries are made next.
			next = now
		}
		if next.IsZero() || next.After(end) {
			return run, nil
		}
		if !next.After(now) {
			next = now.Add(time.Second)
		}
		now = next
	}
	return nil, fmt.Errorf("case %q: still busy after %d steps: a policy that escalates every second?", c.Name, maxSteps)
}

// take records a step of the script on the incident, as a person would.
func take(incident *securityv1alpha1.Incident, s Step, at time.Time) Event {
	incident.Generation++
	switch {
	case s.Acknowledge != nil:
		incident.Spec.Acknowledgement = s.Acknowledge.DeepCopy()
		return Event{At: at, What: "acknowledged by " + s.Acknowledge.By}
	default:
		incident.Spec.Resolution = s.Resolve.DeepCopy()
		return Event{At: at, What: fmt.Sprintf("resolved (%s) by %s", s.Resolve.State, s.Resolve.By)}
	}
}

// clusterOf is a reader over the objects as namespace ns, with labels,
// holds them: what gather reads, as it reads the operator's cache.
// Namespaced objects in no namespace are placed in ns; those of another
// namespace are left out.
func clusterOf(objects *Objects, ns string, labels map[string]string) (gather.Reader, error) {
	var all []runtime.Object
	for _, p := range objects.ClusterPolicies {
		all = append(all, p.DeepCopy())
	}
	for _, p := range objects.Policies {
		all = append(all, p.DeepCopy())
	}
	for _, a := range objects.Assets {
		all = append(all, a.DeepCopy())
	}
	for _, d := range objects.Departments {
		all = append(all, d.DeepCopy())
	}
	return gather.Offline(ns, labels, all)
}

// admitIncident defaults and checks the case's incident as the API server
// does an Incident that is reported: one the cluster would refuse cannot
// be run, and the error names the field.
func admitIncident(incident *securityv1alpha1.Incident) error {
	schemas, err := apischema.Load()
	if err != nil {
		return err
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(incident)
	if err != nil {
		return err
	}
	doc := &unstructured.Unstructured{Object: raw}
	doc.SetAPIVersion(securityv1alpha1.GroupVersion.String())
	doc.SetKind("Incident")
	unstructured.RemoveNestedField(doc.Object, "status")
	unstructured.RemoveNestedField(doc.Object, "metadata", "creationTimestamp")
	errs, pruned := schemas.Admit(doc)
	var lines []string
	for _, e := range errs {
		lines = append(lines, "incident."+e.Error())
	}
	for _, field := range pruned {
		lines = append(lines, "incident."+field+": unknown field")
	}
	if len(lines) > 0 {
		return fmt.Errorf("the API server would refuse this incident: %s", strings.Join(lines, "; "))
	}
	spec := securityv1alpha1.IncidentSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(doc.Object["spec"].(map[string]any), &spec); err != nil {
		return err
	}
	incident.Spec = spec
	return nil
}
