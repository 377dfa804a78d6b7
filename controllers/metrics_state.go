package controllers

import (
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// State gauges are computed from the informer cache when Prometheus
// scrapes, as cert-manager exports certificate state: nothing to keep in
// step, and an incident deleted is gone from the next scrape.
var (
	openIncidentsDesc = prometheus.NewDesc("incidentops_open_incidents",
		"Incidents not resolved, by namespace, phase, severity and category.",
		[]string{"namespace", "phase", "severity", "category"}, nil)
	slaAtRiskDesc = prometheus.NewDesc("incidentops_incidents_sla_at_risk",
		"Open incidents whose service-level deadline is near (SLAAtRisk=True), by namespace.",
		[]string{"namespace"}, nil)
	slaBreachedDesc = prometheus.NewDesc("incidentops_incidents_sla_breached",
		"Incidents that missed a service-level deadline (SLABreached=True), by namespace.",
		[]string{"namespace"}, nil)
	authorityDeadlineDesc = prometheus.NewDesc("incidentops_authority_deadline_seconds",
		"Seconds until the deadline to report a personal data breach to the supervisory authority, for each incident still to report; negative once missed.",
		[]string{"namespace", "incident"}, nil)
	policiesNotReadyDesc = prometheus.NewDesc("incidentops_policies_not_ready",
		"EscalationPolicies that are not Ready, by namespace: routing skips them.",
		[]string{"namespace"}, nil)
	clusterPoliciesNotReadyDesc = prometheus.NewDesc("incidentops_cluster_policies_not_ready",
		"ClusterEscalationPolicies that are not Ready: routing skips them in every namespace they select. Always reported, 0 when all are Ready.",
		nil, nil)
	abandonedDesc = prometheus.NewDesc("incidentops_notifications_abandoned",
		"Notifications given up on (no more attempts), on incidents that still exist, by namespace.",
		[]string{"namespace"}, nil)
	obligationsDesc = prometheus.NewDesc("incidentops_obligations",
		"Obligations of the incidents that exist, by namespace, regime, stage and state. Every state of every stage of every installed regime is reported in each namespace that holds an incident, 0 when no obligation is in it.",
		[]string{"namespace", "regime", "stage", "state"}, nil)
	obligationDeadlineDesc = prometheus.NewDesc("incidentops_obligation_deadline_seconds",
		"Seconds until an open obligation with a fixed deadline is due, for each one; negative once missed. State is ToDecide, Required, Drafted or Agreed.",
		[]string{"namespace", "incident", "regime", "stage", "recipient", "state"}, nil)
	obligationUndecidedDesc = prometheus.NewDesc("incidentops_obligation_undecided_since_timestamp_seconds",
		"Unix time since which an obligation nobody has decided yet (ToDecide) has been open: when the organisation became aware of the incident, the time its regimes' clocks start from.",
		[]string{"namespace", "incident", "regime", "stage"}, nil)

	timeToAcknowledge = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "incidentops_time_to_acknowledge_seconds",
		Help:    "From an incident's report to its acknowledgement (MTTA).",
		Buckets: incidentDurationBuckets,
	})
	timeToResolve = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "incidentops_time_to_resolve_seconds",
		Help:    "From an incident's report to its resolution (MTTR).",
		Buckets: incidentDurationBuckets,
	})
)

// incidentDurationBuckets run from a minute to four weeks.
var incidentDurationBuckets = []float64{60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600, 28 * 24 * 3600}

// stateSource is the cache the state collector reads; Setup sets it, so a
// manager started again (in tests) takes over the registered collector.
var stateSource atomic.Pointer[stateReader]

type stateReader struct {
	reader client.Reader
	clock  clock.Clock
}

type stateCollector struct{}

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{openIncidentsDesc, slaAtRiskDesc, slaBreachedDesc, authorityDeadlineDesc, policiesNotReadyDesc, clusterPoliciesNotReadyDesc, abandonedDesc,
		obligationsDesc, obligationDeadlineDesc, obligationUndecidedDesc} {
		ch <- d
	}
}

func (stateCollector) Collect(ch chan<- prometheus.Metric) {
	source := stateSource.Load()
	if source == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var incidents securityv1alpha1.IncidentList
	var policies securityv1alpha1.EscalationPolicyList
	var clusterPolicies securityv1alpha1.ClusterEscalationPolicyList
	var regimes securityv1alpha1.RegulatoryRegimeList
	for _, list := range []client.ObjectList{&incidents, &policies, &clusterPolicies, &regimes} {
		if source.reader.List(ctx, list) != nil {
			return
		}
	}
	held := heldState{incidents: incidents.Items, policies: policies.Items, clusterPolicies: clusterPolicies.Items, regimes: regimes.Items}
	for _, s := range stateSamples(held, source.clock.Now()) {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, s.value, s.labels...)
	}
}

// A sample is one gauge value.
type sample struct {
	desc   *prometheus.Desc
	labels []string
	value  float64
}

// heldState is what the operator's cache holds that the gauges read.
type heldState struct {
	incidents       []securityv1alpha1.Incident
	policies        []securityv1alpha1.EscalationPolicy
	clusterPolicies []securityv1alpha1.ClusterEscalationPolicy
	regimes         []securityv1alpha1.RegulatoryRegime
}

// obligationStates are the states an obligation can be in, each reported
// for every stage so that a state nobody is in reads 0, not absent.
var obligationStates = []securityv1alpha1.ObligationState{
	securityv1alpha1.ObligationToDecide, securityv1alpha1.ObligationWaiting, securityv1alpha1.ObligationRequired, securityv1alpha1.ObligationNotRequired,
	securityv1alpha1.ObligationDrafted, securityv1alpha1.ObligationAgreed, securityv1alpha1.ObligationFiled,
	securityv1alpha1.ObligationAcknowledged, securityv1alpha1.ObligationNotApplicable,
}

// stateSamples computes the state gauges from incidents, policies and
// regimes. Cluster policies have a series of their own: a namespace label
// left empty would be filled in with the operator's own at scrape time.
func stateSamples(held heldState, now time.Time) []sample {
	incidents, policies, clusterPolicies := held.incidents, held.policies, held.clusterPolicies
	counts := map[*prometheus.Desc]map[[4]string]float64{}
	add := func(d *prometheus.Desc, labels [4]string, v float64) {
		if counts[d] == nil {
			counts[d] = map[[4]string]float64{}
		}
		counts[d][labels] += v
	}
	var samples []sample
	for i := range incidents {
		inc := &incidents[i]
		ns, conditions := inc.Namespace, inc.Status.Conditions
		open := inc.Spec.Resolution == nil
		if open {
			phase := inc.Status.Phase
			if phase == "" {
				phase = securityv1alpha1.PhasePending
			}
			add(openIncidentsDesc, [4]string{ns, string(phase), string(inc.Spec.Severity), string(inc.Spec.Category)}, 1)
		}
		if open && meta.IsStatusConditionTrue(conditions, securityv1alpha1.ConditionSLAAtRisk) {
			add(slaAtRiskDesc, [4]string{ns}, 1)
		}
		if meta.IsStatusConditionTrue(conditions, securityv1alpha1.ConditionSLABreached) {
			add(slaBreachedDesc, [4]string{ns}, 1)
		}
		if deadline := inc.Status.AuthorityNotificationDeadline; deadline != nil && inc.Spec.AuthorityNotification == nil &&
			meta.IsStatusConditionTrue(conditions, securityv1alpha1.ConditionAuthorityNotificationRequired) {
			samples = append(samples, sample{authorityDeadlineDesc, []string{ns, inc.Name}, deadline.Sub(now).Seconds()})
		}
		for _, n := range inc.Status.Notifications {
			if n.State == securityv1alpha1.DeliveryAbandoned {
				add(abandonedDesc, [4]string{ns}, 1)
			}
		}
		samples = append(samples, obligationSamples(inc, now)...)
	}
	countObligations(incidents, held.regimes, add)
	for i := range policies {
		p := &policies[i]
		if !meta.IsStatusConditionTrue(p.Status.Conditions, securityv1alpha1.ConditionReady) {
			add(policiesNotReadyDesc, [4]string{p.Namespace}, 1)
		}
	}
	clusterNotReady := 0
	for i := range clusterPolicies {
		if !meta.IsStatusConditionTrue(clusterPolicies[i].Status.Conditions, securityv1alpha1.ConditionReady) {
			clusterNotReady++
		}
	}
	samples = append(samples, sample{clusterPoliciesNotReadyDesc, nil, float64(clusterNotReady)})
	arity := map[*prometheus.Desc]int{openIncidentsDesc: 4, obligationsDesc: 4}
	for d, byLabels := range counts {
		n := max(arity[d], 1)
		for labels, v := range byLabels {
			samples = append(samples, sample{d, labels[:n], v})
		}
	}
	sort.Slice(samples, func(i, j int) bool {
		a, b := samples[i], samples[j]
		if a.desc != b.desc {
			return a.desc.String() < b.desc.String()
		}
		for k := range min(len(a.labels), len(b.labels)) {
			if a.labels[k] != b.labels[k] {
				return a.labels[k] < b.labels[k]
			}
		}
		return false
	})
	return samples
}

// obligationSamples are the incident's open deadlines and the obligations
// nobody has decided yet. They are per incident, as the authority deadline
// is: only open obligations have series, so there are as many as there are
// things people still have to do, and each names what an alert must. A
// deadline is exported as seconds left rather than a timestamp for the
// same reason the authority deadline is: the alerts and the dashboard read
// it without arithmetic, and it agrees with the operator's clock.
func obligationSamples(inc *securityv1alpha1.Incident, now time.Time) []sample {
	var samples []sample
	for _, o := range inc.Status.Obligations {
		if !o.State.Open() {
			continue
		}
		if o.Deadline != nil {
			samples = append(samples, sample{obligationDeadlineDesc,
				[]string{inc.Namespace, inc.Name, o.Regime, o.Stage, string(o.Recipient), string(o.State)}, o.Deadline.Sub(now).Seconds()})
		}
		if o.State == securityv1alpha1.ObligationToDecide && inc.Status.AwareAt != nil {
			samples = append(samples, sample{obligationUndecidedDesc,
				[]string{inc.Namespace, inc.Name, o.Regime, o.Stage}, float64(inc.Status.AwareAt.Unix())})
		}
	}
	return samples
}

// countObligations counts obligations by namespace, regime, stage and
// state. The stages known are those of the installed regimes and any an
// incident still holds (of a regime since removed); each is counted in
// every state in every namespace that holds an incident, so that a state
// emptied reads 0 rather than vanishing.
func countObligations(incidents []securityv1alpha1.Incident, regimes []securityv1alpha1.RegulatoryRegime, add func(*prometheus.Desc, [4]string, float64)) {
	type stage struct{ regime, name string }
	var stages []stage
	known := map[stage]bool{}
	know := func(s stage) {
		if !known[s] {
			known[s] = true
			stages = append(stages, s)
		}
	}
	for i := range regimes {
		for _, s := range regimes[i].Spec.Stages {
			know(stage{regimes[i].Name, s.Name})
		}
	}
	namespaces := map[string]bool{}
	for i := range incidents {
		namespaces[incidents[i].Namespace] = true
		for _, o := range incidents[i].Status.Obligations {
			know(stage{o.Regime, o.Stage})
			add(obligationsDesc, [4]string{incidents[i].Namespace, o.Regime, o.Stage, string(o.State)}, 1)
		}
	}
	for ns := range namespaces {
		for _, s := range stages {
			for _, state := range obligationStates {
				add(obligationsDesc, [4]string{ns, s.regime, s.name, string(state)}, 0)
			}
		}
	}
}

// observeRecorded times the acknowledgements and resolutions a reconcile
// recorded, from the report.
func observeRecorded(incident *securityv1alpha1.Incident, before *securityv1alpha1.IncidentStatus) {
	reported := incident.CreationTimestamp.Time
	if at := incident.Status.AcknowledgedAt; at != nil && before.AcknowledgedAt == nil {
		timeToAcknowledge.Observe(at.Sub(reported).Seconds())
	}
	if at := incident.Status.ResolvedAt; at != nil && before.ResolvedAt == nil {
		timeToResolve.Observe(at.Sub(reported).Seconds())
	}
}
