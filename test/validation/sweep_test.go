package validation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/sink"
)

// knownGaps are the cases that neither the API server nor the operator
// handles today, each with what would fix it. The sweep prints them and
// does not fail on them; it fails when one is handled, so that the table
// shrinks as they are fixed rather than hiding what the sweep finds.
var knownGaps = map[string]string{
	// AuditTrail: only the operator appends; these are what it would have
	// to write wrongly itself.
	`AuditTrail spec.entries[0].time="2062-11-20T09:30:00Z"`: "an entry time without six fractional digits is stored but cannot be read back as metav1.MicroTime, by the operator or the verifier: the CRD should ask for what the operator writes",
	`AuditTrail spec.entries[0].time="9999-12-31T23:59:59Z"`: "an entry time without six fractional digits is stored but cannot be read back as metav1.MicroTime, by the operator or the verifier: the CRD should ask for what the operator writes",
	`AuditTrail spec.entries[1].time="2062-11-20T09:30:00Z"`: "an entry time without six fractional digits is stored but cannot be read back as metav1.MicroTime, by the operator or the verifier: the CRD should ask for what the operator writes",
	`AuditTrail spec.entries[1].time="9999-12-31T23:59:59Z"`: "an entry time without six fractional digits is stored but cannot be read back as metav1.MicroTime, by the operator or the verifier: the CRD should ask for what the operator writes",
}

// minCases is the fewest cases the sweep must derive: fewer means the
// derivation, not the schema, has lost something.
const minCases = 1000

// sweepConcurrency is how many requests the sweep has in flight.
const sweepConcurrency = 8

// settleTimeout bounds the wait for the operator to reconcile an object the
// API server accepted.
const settleTimeout = 30 * time.Second

// reportCondition is the condition through which the operator reports, on
// each kind, what the schema let through.
var reportCondition = map[string]string{
	"EscalationPolicy":        securityv1alpha1.ConditionReady,
	"ClusterEscalationPolicy": securityv1alpha1.ConditionReady,
	"Incident":                securityv1alpha1.ConditionInputValid,
	"Asset":                   securityv1alpha1.ConditionReady,
	"Department":              securityv1alpha1.ConditionReady,
	"IncidentReport":          securityv1alpha1.ConditionReady,
	"Evidence":                securityv1alpha1.ConditionReady,
	"Filing":                  securityv1alpha1.ConditionReady,
	"RegulatoryRegime":        securityv1alpha1.ConditionReady,
	// An AuditTrail has no conditions: what the API server stores that
	// the operator did not chain is named by the audit verifier (judgeTrail).
}

type verdict string

const (
	refused       verdict = "refused naming the field"
	reported      verdict = "reported naming the field"
	refusedOther  verdict = "refused, not naming the field"
	reportedOther verdict = "reported, not naming the field"
	silent        verdict = "accepted silently"
	failed        verdict = "request failed"
	// accepted is the API server's answer before the operator's is known.
	accepted verdict = "accepted"
)

var verdicts = []verdict{refused, reported, refusedOther, reportedOther, silent, failed}

type outcome struct {
	c       badCase
	verdict verdict
	// answer is what the API server or the operator said.
	answer string
	// name of the object the case was tried as.
	name string
}

func (o outcome) ok() bool { return o.verdict == refused || o.verdict == reported }

// TestSweep derives malformed values from the CRD schemas, adds those
// written by hand, and tries each against the API server; the ones it
// accepts are stored, and the operator must report them in a condition
// naming the field (for a trail: the audit verifier must name the entry).
func TestSweep(t *testing.T) {
	start := time.Now()
	ctx := context.Background()
	kinds, err := loadKinds()
	if err != nil {
		t.Fatal(err)
	}
	dryRun := newNamespace(t, "validation-dry-run")
	store := newNamespace(t, "validation-accepted")
	// A trail's hashes cover its namespace: its base is chained for the
	// namespace its accepted cases are stored in.
	kinds["AuditTrail"].bases = []map[string]any{auditTrailBase(t, store)}
	kinds["AuditBatch"].bases = []map[string]any{auditBatchBase(t)}
	kinds["Filing"].bases = []map[string]any{filingBase(kinds)}
	cases, missing := deriveCases(kinds, start)
	for _, m := range missing {
		t.Error(m)
	}

	for name, k := range kinds {
		for _, base := range k.bases {
			if err := k8sClient.Create(ctx, object(k, base, dryRun, "base"), client.DryRunAll); err != nil {
				t.Fatalf("the sample %s %s is refused; the sweep needs valid samples to start from: %v", name, base["metadata"].(map[string]any)["name"], err)
			}
		}
	}
	prepareStore(t, kinds, store)
	live := storeLive(t, kinds, store)

	outcomes := make([]outcome, len(cases))
	parallel(len(cases), sweepConcurrency, func(i int) {
		outcomes[i] = try(ctx, kinds[cases[i].kind], cases[i], fmt.Sprintf("case-%04d", i), dryRun, live)
	})
	awaitReports(t, kinds, outcomes, store, live)
	elapsed := time.Since(start)

	if file := os.Getenv("VALIDATION_REPORT"); file != "" {
		writeOutcomes(t, file, outcomes)
	}
	if len(cases) < minCases {
		t.Errorf("%d cases derived, want at least %d", len(cases), minCases)
	}
	judge(t, "Validation sweep: malformed values derived from the CRD schemas and written by hand", outcomes, knownGaps, elapsed)
}

// judge prints the report of outcomes and fails the test on every case
// neither refused nor reported naming its field, unless gaps knows it, and
// on every gap that no longer happens.
func judge(t *testing.T, title string, outcomes []outcome, gaps map[string]string, elapsed time.Duration) {
	t.Helper()
	running, panics := operatorHealth()
	printReport(title, outcomes, gaps, elapsed, running, panics)
	failing := map[string]bool{}
	for _, o := range outcomes {
		if o.ok() {
			continue
		}
		failing[o.c.name] = true
		if _, known := gaps[o.c.name]; !known {
			t.Errorf("%s: %s (derived from %s)\n    answer: %s", o.c.name, o.verdict, o.c.why, o.answer)
		}
	}
	for name := range gaps {
		if !failing[name] {
			t.Errorf("known gap %q is handled now, or no longer derived: take it out of the table", name)
		}
	}
	checkOperator(t)
}

// try applies one case as a dry run and judges the API server's answer.
func try(ctx context.Context, k *kind, c badCase, name, ns string, live map[string]string) outcome {
	o := outcome{c: c, name: name}
	var err error
	if c.update == nil {
		err = k8sClient.Create(ctx, object(k, c.object, ns, name), client.DryRunAll)
	} else {
		err = patchLive(ctx, k, c.update, live[c.update.live], live[c.update.live], client.DryRunAll)
	}
	switch {
	case err == nil:
		o.verdict = accepted
	case apierrors.IsInvalid(err):
		o.verdict, o.answer = refusedOther, err.Error()
		if names(apiProblems(err), c.field, c.exact) {
			o.verdict = refused
		}
	default:
		o.verdict, o.answer = failed, err.Error()
	}
	return o
}

// patchLive applies an update case to the stored incident at "namespace/name"
// target, with the patch made from the one at from.
func patchLive(ctx context.Context, k *kind, u *update, from, target string, opts ...client.PatchOption) error {
	ns, name, _ := strings.Cut(from, "/")
	stored := object(k, nil, ns, name)
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(stored), stored); err != nil {
		return err
	}
	patch := u.patch(stored.Object)
	if patch == nil {
		return fmt.Errorf("no patch can be made from %s as stored", from)
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	ns, name, _ = strings.Cut(target, "/")
	return k8sClient.Patch(ctx, object(k, nil, ns, name), client.RawPatch(types.MergePatchType, data), opts...)
}

// awaitReports stores, for real, every case the API server accepted, and
// waits for the operator to reconcile each: a condition naming the field
// makes it reported, anything else accepted silently.
func awaitReports(t *testing.T, kinds map[string]*kind, outcomes []outcome, ns string, live map[string]string) {
	ctx := context.Background()
	pending := map[string]*outcome{}
	for i := range outcomes {
		o := &outcomes[i]
		if o.verdict != accepted {
			continue
		}
		k := kinds[o.c.kind]
		var err error
		if o.c.update == nil {
			err = k8sClient.Create(ctx, object(k, o.c.object, ns, o.name))
		} else {
			// A copy of the stored object takes the change for real.
			from := live[o.c.update.live]
			if err = copyLive(ctx, k, from, ns, o.name); err == nil {
				err = patchLive(ctx, k, o.c.update, from, ns+"/"+o.name)
			}
		}
		if err != nil {
			o.verdict, o.answer = failed, "accepted by a dry run, then: "+err.Error()
			continue
		}
		switch o.c.kind {
		case "AuditTrail":
			judgeTrail(ctx, k, o, ns)
			continue
		case "AuditBatch":
			judgeBatch(ctx, k, o, ns)
			continue
		}
		pending[o.c.kind+"/"+o.name] = o
	}
	deadline := time.Now().Add(settleTimeout)
	for len(pending) > 0 {
		for _, name := range sortedKeys(kinds) {
			if _, reports := reportCondition[name]; !reports {
				continue
			}
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(kinds[name].gvk.GroupVersion().WithKind(name + "List"))
			if err := k8sClient.List(ctx, list, client.InNamespace(ns)); err != nil {
				t.Logf("listing %s: %v", name, err)
				continue
			}
			for _, obj := range list.Items {
				o := pending[name+"/"+obj.GetName()]
				if o == nil || !settled(obj.Object) {
					continue
				}
				judgeReport(o, obj.Object)
				delete(pending, name+"/"+obj.GetName())
			}
		}
		if time.Now().After(deadline) {
			for _, o := range pending {
				o.verdict, o.answer = silent, fmt.Sprintf("not reconciled within %s", settleTimeout)
			}
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// copyLive stores a copy of the live object at from as ns/name, made as the
// live one was: an incident or a trail from its spec, an evidence by
// recording it and its transfer again.
func copyLive(ctx context.Context, k *kind, from, ns, name string) error {
	if k.gvk.Kind == "Evidence" {
		return recordEvidence(ctx, k, ns, name)
	}
	fromNS, fromName, _ := strings.Cut(from, "/")
	stored := object(k, nil, fromNS, fromName)
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(stored), stored); err != nil {
		return err
	}
	spec := runtime.DeepCopyJSON(map[string]any{"spec": stored.Object["spec"]})
	return k8sClient.Create(ctx, object(k, spec, ns, name))
}

// judgeReport decides a stored case from the condition the operator wrote.
func judgeReport(o *outcome, obj map[string]any) {
	typ := reportCondition[o.c.kind]
	status, message, found := condition(obj, typ)
	switch {
	case found && status == string(metav1.ConditionFalse) && names(conditionProblems(message), o.c.field, o.c.exact):
		o.verdict, o.answer = reported, typ+"=False: "+message
	case found && status == string(metav1.ConditionFalse):
		o.verdict, o.answer = reportedOther, typ+"=False: "+message
	default:
		o.verdict, o.answer = silent, fmt.Sprintf("stored; %s is %q: %s", typ, status, message)
	}
}

// settled is true once the operator has reconciled the object's generation.
func settled(obj map[string]any) bool {
	generation, _, _ := unstructured.NestedInt64(obj, "metadata", "generation")
	observed, found, _ := unstructured.NestedInt64(obj, "status", "observedGeneration")
	return found && observed >= generation
}

func condition(obj map[string]any, typ string) (status, message string, found bool) {
	conditions, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return fmt.Sprint(m["status"]), fmt.Sprint(m["message"]), true
		}
	}
	return "", "", false
}

// apiProblems are the causes of an API error, each with its field, and the
// error's whole message.
func apiProblems(err error) []problem {
	problems := []problem{{message: err.Error()}}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if details := status.Status().Details; details != nil {
			for _, c := range details.Causes {
				problems = append(problems, problem{c.Field, c.Message})
			}
		}
	}
	return problems
}

// object is obj as kind k named ns/name, or name alone for a cluster-scoped
// kind; obj nil is an empty object to read into.
func object(k *kind, obj map[string]any, ns, name string) *unstructured.Unstructured {
	if k.gvk.Kind == "ClusterEscalationPolicy" || k.gvk.Kind == "RegulatoryRegime" {
		ns = ""
	}
	u := &unstructured.Unstructured{Object: map[string]any{}}
	if obj != nil {
		u.Object = runtime.DeepCopyJSON(obj)
	}
	u.SetGroupVersionKind(k.gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// prepareStore readies the namespace the accepted cases are stored in: the
// Secrets, Assets and incidents the samples name, and every sample policy,
// report and item of evidence Ready, so that a case that is not Ready is
// so for its bad value alone.
func prepareStore(t *testing.T, kinds map[string]*kind, ns string) {
	ctx := context.Background()
	receiver := httptest.NewServer(&sink.Sink{})
	t.Cleanup(receiver.Close)
	keys := map[string]map[string]string{"pager": {"routing-key": "routing-key"}}
	for _, kind := range []string{"EscalationPolicy", "ClusterEscalationPolicy", "IncidentReport"} {
		for _, base := range kinds[kind].bases {
			secretRefs(base, func(name, key string) {
				if keys[name] == nil {
					keys[name] = map[string]string{}
				}
				keys[name][key] = receiver.URL
			})
		}
	}
	// A cluster policy's receivers read their Secrets from the operator's
	// namespace.
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, in := range []string{ns, operatorNamespace} {
		for name, data := range keys {
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: in, Name: name,
				Labels: map[string]string{securityv1alpha1.NotificationSecretLabel: "true"}}, StringData: data}
			if err := k8sClient.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
		unlabelled := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: in, Name: "unlabelled"}, StringData: map[string]string{"url": receiver.URL}}
		if err := k8sClient.Create(ctx, unlabelled); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	storeEvidenceIncidents(t, kinds, ns)
	storeFilingSubjects(t, kinds, ns)
	for _, kindName := range []string{"Asset", "EscalationPolicy", "ClusterEscalationPolicy", "IncidentReport", "Evidence", "Filing"} {
		k := kinds[kindName]
		for _, base := range k.bases {
			if err := k8sClient.Create(ctx, object(k, base, ns, base["metadata"].(map[string]any)["name"].(string))); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	}
	for _, kindName := range []string{"EscalationPolicy", "ClusterEscalationPolicy", "IncidentReport", "Evidence", "Filing"} {
		waitReady(t, kinds[kindName], ns)
	}
}

// filingBase is the Filing the operator opens for the first stage of the
// first sample RegulatoryRegime, for the first sample incident.
func filingBase(kinds map[string]*kind) map[string]any {
	regime := kinds["RegulatoryRegime"].bases[0]
	stage := regime["spec"].(map[string]any)["stages"].([]any)[0].(map[string]any)
	incident := fmt.Sprint(kinds["Incident"].bases[0]["metadata"].(map[string]any)["name"])
	spec := map[string]any{
		"incident": incident, "regime": regime["metadata"].(map[string]any)["name"], "stage": stage["name"],
		"citation": stage["citation"], "recipient": stage["recipient"], "agreementsRequired": int64(1),
	}
	if n, ok := stage["agreements"]; ok {
		spec["agreementsRequired"] = n
	}
	if content, ok := stage["requiredContent"]; ok {
		spec["requiredContent"] = content
	}
	return map[string]any{"apiVersion": securityv1alpha1.GroupVersion.String(), "kind": "Filing",
		"metadata": map[string]any{"name": incident + ".sample"}, "spec": spec}
}

// storeFilingSubjects stores what the Filing base names: the sample
// regimes and the incident.
func storeFilingSubjects(t *testing.T, kinds map[string]*kind, ns string) {
	for _, base := range kinds["RegulatoryRegime"].bases {
		obj := object(kinds["RegulatoryRegime"], base, "", base["metadata"].(map[string]any)["name"].(string))
		if err := k8sClient.Create(context.Background(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("storing the sample regime: %v", err)
		}
	}
	incident := kinds["Incident"].bases[0]
	obj := object(kinds["Incident"], incident, ns, incident["metadata"].(map[string]any)["name"].(string))
	if err := k8sClient.Create(context.Background(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("storing the incident the Filing base names: %v", err)
	}
}

// storeEvidenceIncidents stores the incidents the Evidence samples name,
// aware of the event an hour before the first item was collected, so that
// the samples are Ready where the sweep stores its cases.
func storeEvidenceIncidents(t *testing.T, kinds map[string]*kind, ns string) {
	ctx := context.Background()
	incidents := kinds["Incident"]
	for _, ev := range kinds["Evidence"].bases {
		name, _ := getAt(ev, path{"spec", "incident"})
		collected, _ := getAt(ev, path{"spec", "collectedAt"})
		at, err := time.Parse(time.RFC3339, fmt.Sprint(collected))
		if err != nil {
			t.Fatalf("the sample Evidence's collectedAt %v: %v", collected, err)
		}
		base := incidents.bases[0]
		for _, b := range incidents.bases {
			if b["metadata"].(map[string]any)["name"] == name {
				base = b
			}
		}
		inc := clone(base)
		setAt(inc, path{"spec", "awareAt"}, stamp(at, -time.Hour))
		if err := k8sClient.Create(ctx, object(incidents, inc, ns, fmt.Sprint(name))); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("storing incident %v for the Evidence samples: %v", name, err)
		}
	}
}

// operatorNamespace is the operator's own namespace, as its flag defaults.
const operatorNamespace = "incident-operator-system"

// waitReady waits until every sample of the kind is Ready where the sweep
// stores its cases.
func waitReady(t *testing.T, policies *kind, ns string) {
	ctx := context.Background()
	for _, base := range policies.bases {
		name := base["metadata"].(map[string]any)["name"].(string)
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, settleTimeout, true, func(ctx context.Context) (bool, error) {
			obj := object(policies, nil, ns, name)
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return false, err
			}
			status, _, _ := condition(obj.Object, securityv1alpha1.ConditionReady)
			return status == string(metav1.ConditionTrue), nil
		})
		if err != nil {
			t.Fatalf("the sample %s %s is not Ready where the sweep stores its cases: %v", policies.gvk.Kind, name, err)
		}
	}
}

// secretRefs calls f with each Secret name and key an object refers to.
func secretRefs(node any, f func(name, key string)) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if ref, ok := v.(map[string]any); ok && strings.HasSuffix(k, "SecretRef") {
				f(fmt.Sprint(ref["name"]), fmt.Sprint(ref["key"]))
			}
			secretRefs(v, f)
		}
	case []any:
		for _, v := range n {
			secretRefs(v, f)
		}
	}
}

// storeLive stores the objects update cases change, and returns them as
// "namespace/name" by role.
func storeLive(t *testing.T, kinds map[string]*kind, ns string) map[string]string {
	live := storeLiveIncidents(t, kinds["Incident"], ns)
	live[liveEvidence] = storeLiveEvidence(t, kinds["Evidence"], ns)
	trails := kinds["AuditTrail"]
	if err := k8sClient.Create(context.Background(), object(trails, trails.bases[0], ns, liveTrail)); err != nil {
		t.Fatalf("storing %s: %v", liveTrail, err)
	}
	live[liveTrail] = ns + "/" + liveTrail
	batches := kinds["AuditBatch"]
	if err := k8sClient.Create(context.Background(), object(batches, batches.bases[0], ns, liveBatch)); err != nil {
		t.Fatalf("storing %s: %v", liveBatch, err)
	}
	live[liveBatch] = ns + "/" + liveBatch
	return live
}

// storeLiveEvidence stores the live evidence.
func storeLiveEvidence(t *testing.T, k *kind, ns string) string {
	if err := recordEvidence(context.Background(), k, ns, liveEvidence); err != nil {
		t.Fatalf("storing %s: %v", liveEvidence, err)
	}
	return ns + "/" + liveEvidence
}

// recordEvidence stores the first Evidence sample as ns/name with one
// custody transfer, recorded as people record one: by an update after the
// collection, since an Evidence is created without transfers.
func recordEvidence(ctx context.Context, k *kind, ns, name string) error {
	ev := object(k, k.bases[0], ns, name)
	if err := k8sClient.Create(ctx, ev); err != nil {
		return err
	}
	collected, _ := getAt(ev.Object, path{"spec", "collectedAt"})
	at, _ := time.Parse(time.RFC3339, fmt.Sprint(collected))
	transfer := map[string]any{"sequence": int64(0), "from": "Jo Bloggs", "to": "Evidence officer", "at": stamp(at, time.Hour), "reason": "Taken to the evidence safe"}
	data, _ := json.Marshal(map[string]any{"spec": map[string]any{"custody": []any{transfer}}})
	return k8sClient.Patch(ctx, ev, client.RawPatch(types.MergePatchType, data))
}

// storeLiveIncidents stores the incidents update cases change, and returns
// them as "namespace/name" by role. The namespace needs a policy that routes
// them: the operator writes the deadlines of routed incidents only.
func storeLiveIncidents(t *testing.T, k *kind, ns string) map[string]string {
	ctx := context.Background()
	now := time.Now()
	base := k.bases[0]
	aware := clone(base)
	setAt(aware, path{"spec", "awareAt"}, stamp(now, -time.Hour))
	setAt(aware, path{"spec", "acknowledgement"}, map[string]any{"by": "Jo Bloggs"})
	setAt(aware, path{"spec", "resolution"}, map[string]any{"by": "Jo Bloggs", "state": "Resolved"})
	setAt(aware, path{"spec", "impact", "personalData"}, true)
	setAt(aware, path{"spec", "authorityNotification"}, map[string]any{"notifiedAt": stamp(now, -30*time.Minute), "reference": "ICO-0001"})
	unaware := clone(base)
	setAt(unaware, path{"spec", "impact", "personalData"}, true)
	for name, obj := range map[string]map[string]any{liveAware: aware, liveUnaware: unaware} {
		if err := k8sClient.Create(ctx, object(k, obj, ns, name)); err != nil {
			t.Fatalf("storing %s: %v", name, err)
		}
	}
	// The rule on the deadline needs the one the operator writes.
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, settleTimeout, true, func(ctx context.Context) (bool, error) {
		obj := object(k, nil, ns, liveUnaware)
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
		_, found, _ := unstructured.NestedString(obj.Object, "status", "authorityNotificationDeadline")
		return found, nil
	})
	if err != nil {
		t.Fatalf("the operator set no authorityNotificationDeadline on %s: %v", liveUnaware, err)
	}
	return map[string]string{liveAware: ns + "/" + liveAware, liveUnaware: ns + "/" + liveUnaware}
}

func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// parallel calls f(0) to f(n-1), workers at a time.
func parallel(n, workers int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// printReport writes the figures, and the cases that fail, to stdout.
func printReport(title string, outcomes []outcome, gaps map[string]string, elapsed time.Duration, running bool, panics int) {
	var kindNames []string
	for _, o := range outcomes {
		if !slices.Contains(kindNames, o.c.kind) {
			kindNames = append(kindNames, o.c.kind)
		}
	}
	slices.Sort(kindNames)
	count := map[verdict]map[string]int{}
	perKind := map[string]int{}
	for _, o := range outcomes {
		if count[o.verdict] == nil {
			count[o.verdict] = map[string]int{}
		}
		count[o.verdict][o.c.kind]++
		perKind[o.c.kind]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s: %d cases in %s\n\n", title, len(outcomes), elapsed.Round(100*time.Millisecond))
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\t%s\ttotal\t\n", strings.Join(kindNames, "\t"))
	row := func(label string, n map[string]int) {
		total := 0
		fmt.Fprintf(w, "%s\t", label)
		for _, k := range kindNames {
			fmt.Fprintf(w, "%d\t", n[k])
			total += n[k]
		}
		fmt.Fprintf(w, "%d\t\n", total)
	}
	row("cases", perKind)
	for _, v := range verdicts {
		row(string(v), count[v])
	}
	_ = w.Flush()
	sources := map[string]int{}
	for _, o := range outcomes {
		sources[o.c.why]++
	}
	var derived []string
	for _, why := range sortedKeys(sources) {
		derived = append(derived, fmt.Sprintf("%s %d", why, sources[why]))
	}
	fmt.Fprintf(&b, "\nderived from: %s\n", strings.Join(derived, ", "))
	exits := 0
	if !running {
		exits = 1
	}
	fmt.Fprintf(&b, "operator exits: %d, panics: %d\n", exits, panics)

	// The cases that fail, the new ones first, then the known gaps by cause.
	groups := map[string][]outcome{}
	for _, o := range outcomes {
		if !o.ok() {
			why, known := gaps[o.c.name]
			if !known {
				why = ""
			}
			groups[why] = append(groups[why], o)
		}
	}
	for _, why := range sortedKeys(groups) {
		if why == "" {
			fmt.Fprintf(&b, "\nNEW: not refused or reported naming the field (%d):\n", len(groups[why]))
		} else {
			fmt.Fprintf(&b, "\nknown gap (%d): %s\n", len(groups[why]), why)
		}
		for _, o := range groups[why] {
			fmt.Fprintf(&b, "  %s\n      %s: %s\n", o.c.name, o.verdict, clip(o.answer, 200))
		}
	}
	fmt.Fprint(os.Stdout, b.String())
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// writeOutcomes writes every case and its answer, one a line, for a person
// reading what the API server and the operator said: VALIDATION_REPORT=file.
func writeOutcomes(t *testing.T, file string, outcomes []outcome) {
	var b strings.Builder
	for _, o := range outcomes {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", o.c.name, o.verdict, o.c.why, strings.ReplaceAll(o.answer, "\n", " "))
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}
