package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/lifecycle"
	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// workers is how many requests the harness has in flight, for the floor
// and for the operator runs alike.
const workers = 16

// tpCase is one throughput run; warningsOnly runs the operator with
// --warning-events-only, to show what the Normal events cost.
type tpCase struct {
	n, p         int
	warningsOnly bool
}

type scale struct {
	throughput []tpCase
	rate       int
	duration   time.Duration
	timers     int
	// fallbacks are the incidents whose receiver answers 404.
	fallbacks int
}

// scaleFor is the scale to run at. BENCH_THROUGHPUT (such as
// "2000x10,2000x1000"; a trailing w runs with --warning-events-only) picks
// other throughput runs, and BENCH_TIMERS the timer count, for profiling
// one case.
func scaleFor() scale {
	if env := os.Getenv("BENCH_THROUGHPUT"); env != "" {
		sc := scale{fallbacks: 200, rate: 20, duration: 5 * time.Second, timers: 100}
		if n, err := strconv.Atoi(os.Getenv("BENCH_TIMERS")); err == nil {
			sc.timers = n
		}
		for _, c := range strings.Split(env, ",") {
			var n, p int
			if _, err := fmt.Sscanf(c, "%dx%d", &n, &p); err == nil {
				sc.throughput = append(sc.throughput, tpCase{n, p, strings.HasSuffix(c, "w")})
			}
		}
		return sc
	}
	if testing.Short() {
		return scale{throughput: []tpCase{{200, 10, false}, {200, 100, false}}, rate: 20, duration: 5 * time.Second, timers: 100, fallbacks: 20}
	}
	return scale{
		throughput: []tpCase{{1000, 10, false}, {1000, 1000, false}, {10000, 10, false}, {10000, 1000, false}, {10000, 1000, true}},
		rate:       50, duration: 60 * time.Second, timers: 1000, fallbacks: 200,
	}
}

// TestHarness runs every measurement and prints one table.
func TestHarness(t *testing.T) {
	sc := scaleFor()
	var report strings.Builder
	tw := tabwriter.NewWriter(&report, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nincident-operator benchmark (%s, %d CPUs, GOMAXPROCS %d)\n\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0))

	fmt.Fprintln(tw, "THROUGHPUT\tN\tP\tevents\tfloor\tfloor+trail\toperator\tratio\tratio to floor+trail\twrites/incident\taudit writes/incident\treconciles/incident\treads/incident\tevents/incident\theap/incident\tRSS\tCPU s/1000\tCPU apiserver+etcd\tCPU operator")
	floors, trailFloors := map[int]time.Duration{}, map[int]time.Duration{}
	for _, c := range sc.throughput {
		if _, ok := floors[c.n]; !ok {
			floors[c.n] = measureFloor(t, c.n, false)
			trailFloors[c.n] = measureFloor(t, c.n, true)
		}
		r := measureThroughput(t, c)
		events := "all"
		if c.warningsOnly {
			events = "warnings"
		}
		fmt.Fprintf(tw, "\t%d\t%d\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%.2f\t%.0f%%\t%.0f%%\n",
			c.n, c.p, events, floors[c.n].Round(time.Millisecond), trailFloors[c.n].Round(time.Millisecond), r.elapsed.Round(time.Millisecond),
			float64(r.elapsed)/float64(floors[c.n]), float64(r.elapsed)/float64(trailFloors[c.n]), r.writes, r.auditWrites, r.reconciles, r.reads, r.events,
			bytesString(r.heapPerIncident), bytesString(r.rss), r.cpuPer1000, 100*r.controlPlane, 100*r.operatorCPU)
	}

	l, api := measureLatency(t, sc.rate, sc.duration)
	fmt.Fprintf(tw, "\nLATENCY\trate\tincidents\tp50\tp99\tmax\n")
	fmt.Fprintf(tw, "create→notification\t%d/s\t%d\t%s\t%s\t%s\n", sc.rate, l.count, l.p50, l.p99, l.max)
	for _, k := range []string{auditCommit, "POST incidents", "PATCH incidents/status", "POST auditbatches", "POST events"} {
		label := "API server " + k
		if k == auditCommit {
			label = k
		}
		fmt.Fprintf(tw, "%s\t\t%.0f\t%s\t%s\t\n", label, api[k].count, api[k].quantile(0.5), api[k].quantile(0.99))
	}

	d := measureTimers(t, sc.timers)
	fmt.Fprintf(tw, "\nTIMERS\tincidents\tdeadlines within\tp50\tp99\tmax\n")
	fmt.Fprintf(tw, "deadline→SLABreached\t%d\t%s\t%s\t%s\t%s\n", d.count, d.spread, d.p50, d.p99, d.max)

	f := measureFallback(t, sc.fallbacks, 20)
	fmt.Fprintf(tw, "\nPERMANENT ERRORS\tincidents\trate\tp50\tp99\tmax\n")
	fmt.Fprintf(tw, "create→fallback told (404)\t%d\t20/s\t%s\t%s\t%s\n", f.count, f.p50, f.p99, f.max)
	_ = tw.Flush()
	fmt.Print(report.String())
	if path := os.Getenv("BENCH_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func bytesString(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func newNamespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func incident(ns string, i int) *securityv1alpha1.Incident {
	return &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("inc-%05d", i)},
		Spec: securityv1alpha1.IncidentSpec{
			Title:    fmt.Sprintf("Malware on workstation %d", i),
			Category: securityv1alpha1.CategoryMalware,
			Severity: securityv1alpha1.SeverityHigh,
			Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Sam Jones"}, Department: "Finance"},
			Impact:   securityv1alpha1.Impact{ITRelated: true},
		},
	}
}

// parallel runs do(i) for i in [0, n) on the harness's workers.
func parallel(t testing.TB, n int, do func(i int) error) {
	t.Helper()
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// measureFloor is the least work any operator must cause: create N
// incidents and write one status update to each. With trail, each also
// gets the first segment of an audit trail holding three entries, the
// least an operator keeping its audit trail in the API server must add.
func measureFloor(t *testing.T, n int, trail bool) time.Duration {
	ns := newNamespace(t, "floor")
	ctx := context.Background()
	keys, err := audit.NewKeyRing(floorKey)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	parallel(t, n, func(i int) error {
		inc := incident(ns, i)
		if err := k8sClient.Create(ctx, inc); err != nil {
			return err
		}
		if trail {
			subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
			chain := audit.NewChain(ns, subject, nil)
			var entries []securityv1alpha1.AuditEntry
			for _, action := range []securityv1alpha1.AuditAction{securityv1alpha1.AuditReported, securityv1alpha1.AuditRouted, securityv1alpha1.AuditNotified} {
				entries = append(entries, chain.Append(keys.Signing(), time.Now(), securityv1alpha1.AuditActor{Operator: true}, action, map[string]string{"policy": "policy-0000"}))
			}
			if err := k8sClient.Create(ctx, &securityv1alpha1.AuditTrail{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: audit.ObjectName(subject, 0)},
				Spec:       securityv1alpha1.AuditTrailSpec{Subject: subject, Entries: entries},
			}); err != nil {
				return err
			}
		}
		before := inc.DeepCopy()
		inc.Status.Phase = securityv1alpha1.PhaseOpen
		return k8sClient.Status().Patch(ctx, inc, client.MergeFrom(before))
	})
	return time.Since(start)
}

// policies creates p policies of which only the last, by priority, matches
// the harness's incidents; half of the others carry a CEL expression.
func policies(t testing.TB, ns, url string, p int, sla *securityv1alpha1.SLA) {
	t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook", Labels: notificationSecret}, StringData: map[string]string{"url": url}}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	parallel(t, p, func(i int) error {
		policy := &securityv1alpha1.EscalationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("policy-%04d", i)},
			Spec: securityv1alpha1.EscalationPolicySpec{
				Priority: int32(1000 - i%2000),
				Receivers: []securityv1alpha1.Receiver{{Name: "hook", Webhook: &securityv1alpha1.WebhookReceiver{
					URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hook", Key: "url"}}}},
				Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{
					Notify: []securityv1alpha1.NotifyTarget{{Receiver: "hook"}}}}},
			},
		}
		switch {
		case i == p-1:
			policy.Spec.Priority = -1000
			policy.Spec.SLA = sla
		case i%2 == 0:
			policy.Spec.Match.Expression = fmt.Sprintf("has(incident.spec.impact.dataSubjects) && incident.spec.impact.dataSubjects > %d", 100000+i)
		default:
			policy.Spec.Match.Categories = []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryTheft}
		}
		return k8sClient.Create(ctx, policy)
	})
}

// startOperator runs the operator binary on ns and waits until every
// policy there is Ready, so that start-up is not counted.
func startOperator(t testing.TB, ns string, p int, extra ...string) (*testenv.Operator, string) {
	t.Helper()
	metricsAddr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	op := &testenv.Operator{Binary: manager, Kubeconfig: operatorKubeconfig, Args: []string{
		"--watch-namespaces=" + ns, "--metrics-bind-address=" + metricsAddr, "--metrics-secure=false", "--pprof-bind-address=" + pprofAddr,
	}}
	op.Args = append(op.Args, extra...)
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = op.Stop()
		if t.Failed() {
			log := op.Log()
			t.Logf("operator log (last 4 KiB):\n%s", log[max(0, len(log)-4096):])
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var list securityv1alpha1.EscalationPolicyList
		if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		ready := 0
		for i := range list.Items {
			if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, securityv1alpha1.ConditionReady) {
				ready++
			}
		}
		if ready == p {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d policies Ready after 3 minutes", ready, p)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return op, "http://" + metricsAddr + "|http://" + pprofAddr
}

type throughput struct {
	elapsed               time.Duration
	writes, reads, events float64
	// auditWrites are the writes of AuditBatch objects (the namespace's
	// audit log), per incident.
	auditWrites float64
	// reconciles are the incident controller's, per incident.
	reconciles           float64
	heapPerIncident, rss float64
	cpuPer1000           float64
	// controlPlane and operatorCPU are the shares of the machine's CPU
	// that kube-apiserver with etcd, and the operator, used during the run.
	controlPlane, operatorCPU float64
}

// measureThroughput times the operator from the first create to the last
// notification, and what it cost.
func measureThroughput(t *testing.T, c tpCase) throughput {
	n, p := c.n, c.p
	ns := newNamespace(t, fmt.Sprintf("tp-%d-%d", n, p))
	s, url := newSink(t)
	policies(t, ns, url, p, nil)
	var extra []string
	if c.warningsOnly {
		extra = append(extra, "--warning-events-only")
	}
	op, endpoints := startOperator(t, ns, p, extra...)
	metricsURL, pprofURL, _ := strings.Cut(endpoints, "|")

	heapBefore := liveHeap(t, metricsURL, pprofURL)
	cpuBefore := scrape(t, metricsURL)["process_cpu_seconds_total"]
	reconcilesBefore := incidentReconciles(t, metricsURL)
	apiBefore := apiRequests(t)

	ctx := context.Background()
	stopProfile := profileCPU(t, pprofURL, fmt.Sprintf("cpu-%d-%d.pprof", n, p))
	cpBefore, opBefore := controlPlaneCPU(t), scrape(t, metricsURL)["process_cpu_seconds_total"]
	start := time.Now()
	parallel(t, n, func(i int) error { return k8sClient.Create(ctx, incident(ns, i)) })
	last := waitForDeliveries(t, s, n, 10*time.Minute)
	machine := time.Since(start).Seconds() * float64(runtime.NumCPU())
	cpShare, opShare := (controlPlaneCPU(t)-cpBefore)/machine, (scrape(t, metricsURL)["process_cpu_seconds_total"]-opBefore)/machine
	stopProfile()
	elapsed := last.Sub(start)

	apiAfter := waitForQuiet(t)
	heapAfter := liveHeap(t, metricsURL, pprofURL)
	saveProfile(t, pprofURL+"/debug/pprof/heap", fmt.Sprintf("heap-%d-%d.pprof", n, p))
	cpuAfter := scrape(t, metricsURL)["process_cpu_seconds_total"]

	delta := apiAfter.minus(apiBefore)
	delta["POST incidents"] -= float64(n) // the harness's own creates
	checkOneDeliveryEach(t, s.Deliveries(), n)
	r := throughput{
		elapsed:         elapsed,
		writes:          delta.sum(isWrite, "incidents") / float64(n),
		auditWrites:     delta.sum(isWrite, "auditbatches") / float64(n),
		reads:           delta.sum(isRead, "") / float64(n),
		events:          delta.sum(isWrite, "events") / float64(n),
		heapPerIncident: (heapAfter - heapBefore) / float64(n),
		rss:             rss(t, op.Pid()),
		cpuPer1000:      (cpuAfter - cpuBefore) / float64(n) * 1000,
		reconciles:      (incidentReconciles(t, metricsURL) - reconcilesBefore) / float64(n),
		controlPlane:    cpShare,
		operatorCPU:     opShare,
	}
	t.Logf("N=%d P=%d: operator API requests by verb and resource: %s", n, p, delta)
	m := scrape(t, metricsURL)
	t.Logf("N=%d P=%d: reconciles %.0f, mean reconcile %.1f ms, mean queue wait %.1f ms, mean delivery %.1f ms", n, p,
		m["controller_runtime_reconcile_time_seconds_count"],
		1000*m["controller_runtime_reconcile_time_seconds_sum"]/m["controller_runtime_reconcile_time_seconds_count"],
		1000*m["workqueue_queue_duration_seconds_sum"]/m["workqueue_queue_duration_seconds_count"],
		1000*m["incidentops_notification_duration_seconds_sum"]/m["incidentops_notification_duration_seconds_count"])
	return r
}

func waitForDeliveries(t testing.TB, s *sink.Sink, n int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for s.Len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d notifications after %s", s.Len(), n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var last time.Time
	for _, d := range s.Deliveries() {
		if d.At.After(last) {
			last = d.At
		}
	}
	return last
}

// checkOneDeliveryEach asserts every incident was notified, under one key.
func checkOneDeliveryEach(t testing.TB, got []sink.Delivery, n int) {
	t.Helper()
	keys := map[string]map[string]bool{}
	for _, d := range got {
		if keys[d.Message.Incident.Name] == nil {
			keys[d.Message.Incident.Name] = map[string]bool{}
		}
		keys[d.Message.Incident.Name][d.Key] = true
	}
	if len(keys) != n {
		t.Errorf("%d incidents notified, want %d", len(keys), n)
	}
	for name, k := range keys {
		if len(k) != 1 {
			t.Errorf("%s notified under %d keys", name, len(k))
		}
	}
}

// requests counts API server requests by "VERB resource[/subresource]".
type requests map[string]float64

func (r requests) minus(o requests) requests {
	out := requests{}
	for k, v := range r {
		if d := v - o[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func (r requests) sum(verb func(string) bool, resource string) float64 {
	var total float64
	for k, v := range r {
		vb, res, _ := strings.Cut(k, " ")
		if !verb(vb) || !isOperatorResource(res) {
			continue
		}
		if resource != "" && strings.Split(res, "/")[0] != resource {
			continue
		}
		total += v
	}
	return total
}

func (r requests) String() string {
	keys := make([]string, 0, len(r))
	for k := range r {
		if _, res, _ := strings.Cut(k, " "); isOperatorResource(res) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%.0f", k, r[k]))
	}
	return strings.Join(parts, ", ")
}

func isWrite(verb string) bool {
	return slices.Contains([]string{"POST", "PUT", "PATCH", "DELETE", "APPLY"}, verb)
}

func isRead(verb string) bool { return slices.Contains([]string{"GET", "LIST", "WATCH"}, verb) }

func isOperatorResource(res string) bool {
	switch strings.Split(res, "/")[0] {
	case "incidents", "escalationpolicies", "assets", "events", "secrets", "audittrails", "auditbatches", "evidences":
		return true
	}
	return false
}

// parseMetrics reads the Prometheus text format.
func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(r)
}

// apiServerMetrics reads the API server's own metrics, keyed by family and
// then by "VERB resource[/subresource]".
func apiServerMetrics(t testing.TB, family string) map[string][]*dto.Metric {
	t.Helper()
	raw, err := clientset.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	families, err := parseMetrics(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*dto.Metric{}
	for _, m := range families[family].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		key := labels["verb"] + " " + labels["resource"]
		if labels["subresource"] != "" {
			key += "/" + labels["subresource"]
		}
		out[key] = append(out[key], m)
	}
	return out
}

// apiRequests counts requests from the API server's apiserver_request_total.
func apiRequests(t testing.TB) requests {
	t.Helper()
	out := requests{}
	for key, metrics := range apiServerMetrics(t, "apiserver_request_total") {
		for _, m := range metrics {
			out[key] += m.GetCounter().GetValue()
		}
	}
	return out
}

// waitForQuiet waits until the operator stops writing, and returns the
// request counts then.
func waitForQuiet(t testing.TB) requests {
	t.Helper()
	prev := apiRequests(t)
	for range 120 {
		time.Sleep(time.Second)
		cur := apiRequests(t)
		if cur.minus(prev).sum(isWrite, "") == 0 {
			return cur
		}
		prev = cur
	}
	t.Fatal("the operator kept writing for two minutes after the last notification")
	return nil
}

// scrape reads the operator's own Prometheus metrics.
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	families, err := parseMetrics(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				out[name] += m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[name] += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[name+"_sum"] += m.GetHistogram().GetSampleSum()
				out[name+"_count"] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// incidentReconciles is how many reconciles the incident controller has
// finished, whatever their result.
func incidentReconciles(t testing.TB, url string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	families, err := parseMetrics(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, m := range families["controller_runtime_reconcile_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "controller" && l.GetValue() == "incident" {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// liveHeap is the operator's heap in use right after a garbage collection,
// which the pprof heap endpoint runs when asked with gc=1.
func liveHeap(t testing.TB, metricsURL, pprofURL string) float64 {
	t.Helper()
	resp, err := http.Get(pprofURL + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return scrape(t, metricsURL)["go_memstats_heap_inuse_bytes"]
}

// saveProfile stores a pprof profile in BENCH_PROFILE, when it is set.
func saveProfile(t testing.TB, url, name string) {
	dir := os.Getenv("BENCH_PROFILE")
	if dir == "" {
		return
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	if err != nil {
		t.Error(err)
	}
}

// profileCPU profiles the operator's CPU into BENCH_PROFILE until the
// returned function is called, when BENCH_PROFILE is set.
func profileCPU(t testing.TB, pprofURL, name string) func() {
	if os.Getenv("BENCH_PROFILE") == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		saveProfile(t, pprofURL+"/debug/pprof/profile?seconds=20", name)
	}()
	return func() { <-done }
}

// rss is the resident set size of a process, from /proc.
func rss(t testing.TB, pid int) float64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

type distribution struct {
	count         int
	spread        time.Duration
	p50, p99, max time.Duration
}

func distributionOf(samples []time.Duration) distribution {
	slices.Sort(samples)
	at := func(q float64) time.Duration {
		return samples[min(len(samples)-1, int(q*float64(len(samples))))].Round(time.Millisecond)
	}
	return distribution{count: len(samples), p50: at(0.50), p99: at(0.99), max: samples[len(samples)-1].Round(time.Millisecond)}
}

// measureLatency creates incidents at a steady rate and measures, at the
// sink, how long each took from create to notification.
func measureLatency(t *testing.T, rate int, duration time.Duration) (distribution, map[string]histogram) {
	ns := newNamespace(t, "latency")
	s, url := newSink(t)
	policies(t, ns, url, 10, nil)
	_, urls := startOperator(t, ns, 10)
	metricsURL, _, _ := strings.Cut(urls, "|")

	ctx := context.Background()
	apiBefore := apiDurations(t)
	n := rate * int(duration/time.Second)
	created := make([]time.Time, n)
	ticker := time.NewTicker(time.Second / time.Duration(rate))
	defer ticker.Stop()
	var wg sync.WaitGroup
	for i := range n {
		<-ticker.C
		created[i] = time.Now()
		wg.Go(func() {
			if err := k8sClient.Create(ctx, incident(ns, i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	waitForDeliveries(t, s, n, 5*time.Minute)
	api := subtractHistograms(waitForQuietDurations(t), apiBefore)
	api[auditCommit] = operatorHistogram(t, metricsURL, "incidentops_audit_log_commit_seconds")
	checkOneDeliveryEach(t, s.Deliveries(), n)
	latencies := make([]time.Duration, 0, n)
	for _, d := range s.Deliveries() {
		var i int
		if _, err := fmt.Sscanf(d.Message.Incident.Name, "inc-%05d", &i); err != nil {
			t.Fatal(err)
		}
		latencies = append(latencies, d.At.Sub(created[i]))
	}
	return distributionOf(latencies), api
}

// auditCommit names, among the latency histograms, the operator's: an
// audit entry's append until the batch holding it, with the signed
// checkpoint that covers it, is stored.
const auditCommit = "audit entry→signed checkpoint"

// operatorHistogram reads one of the operator's histograms.
func operatorHistogram(t testing.TB, metricsURL, name string) histogram {
	t.Helper()
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	families, err := parseMetrics(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var h histogram
	f, ok := families[name]
	if !ok {
		t.Fatalf("the operator exports no %s", name)
	}
	for _, m := range f.GetMetric() {
		hist := m.GetHistogram()
		h.count += float64(hist.GetSampleCount())
		for i, b := range hist.GetBucket() {
			if len(h.bounds) <= i {
				h.bounds = append(h.bounds, b.GetUpperBound())
				h.counts = append(h.counts, 0)
			}
			h.counts[i] += float64(b.GetCumulativeCount())
		}
	}
	return h
}

// histogram is a Prometheus histogram: cumulative counts by upper bound.
type histogram struct {
	count  float64
	bounds []float64
	counts []float64
}

// quantile estimates a quantile as the upper bound of its bucket.
func (h histogram) quantile(q float64) string {
	if h.count == 0 {
		return "-"
	}
	for i, c := range h.counts {
		if c >= q*h.count {
			return "≤" + (time.Duration(h.bounds[i] * float64(time.Second))).String()
		}
	}
	return "> " + (time.Duration(h.bounds[len(h.bounds)-1] * float64(time.Second))).String()
}

// apiDurations reads the API server's apiserver_request_duration_seconds.
func apiDurations(t testing.TB) map[string]histogram {
	t.Helper()
	out := map[string]histogram{}
	for key, metrics := range apiServerMetrics(t, "apiserver_request_duration_seconds") {
		var h histogram
		for _, m := range metrics {
			hist := m.GetHistogram()
			h.count += float64(hist.GetSampleCount())
			for i, b := range hist.GetBucket() {
				if len(h.bounds) <= i {
					h.bounds = append(h.bounds, b.GetUpperBound())
					h.counts = append(h.counts, 0)
				}
				h.counts[i] += float64(b.GetCumulativeCount())
			}
		}
		out[key] = h
	}
	return out
}

func subtractHistograms(after, before map[string]histogram) map[string]histogram {
	out := map[string]histogram{}
	for k, a := range after {
		b := before[k]
		d := histogram{count: a.count - b.count, bounds: a.bounds, counts: slices.Clone(a.counts)}
		for i := range d.counts {
			if i < len(b.counts) {
				d.counts[i] -= b.counts[i]
			}
		}
		out[k] = d
	}
	return out
}

// waitForQuietDurations waits for the operator to stop writing and reads
// the API server's request durations.
func waitForQuietDurations(t testing.TB) map[string]histogram {
	waitForQuiet(t)
	return apiDurations(t)
}

// timerRate is how many incidents a second measureTimers creates.
const timerRate = 60

// measureTimers creates incidents whose acknowledge deadlines fall within
// the same minute and measures how late each SLABreached condition appears
// after its deadline, to the nanosecond.
func measureTimers(t *testing.T, n int) distribution {
	ns := newNamespace(t, "timers")
	s, url := newSink(t)
	// Long enough for the burst to be routed before the first deadline; the
	// full run's 1,000 incidents take about 10 s.
	within := 40 * time.Second
	if n <= 100 {
		within = 10 * time.Second
	}
	target := securityv1alpha1.SLATarget{
		Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityHigh}, AcknowledgeWithin: securityv1alpha1.NewDuration(within),
	}
	policies(t, ns, url, 1, &securityv1alpha1.SLA{Targets: []securityv1alpha1.SLATarget{target}})
	_, urls := startOperator(t, ns, 1)
	metricsURL, _, _ := strings.Cut(urls, "|")

	watcher, err := client.NewWithWatch(restConfig, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	// The deadline as the operator works it out, from the routing time
	// status keeps to the nanosecond; status.sla records it to the second.
	b := &breaches{namespace: ns, deadline: func(inc *securityv1alpha1.Incident) (time.Time, error) {
		st := inc.Status
		if st.RoutedAt == nil || st.SLA == nil || st.SLA.AcknowledgeBy == nil {
			return time.Time{}, fmt.Errorf("breached without routedAt and status.sla.acknowledgeBy")
		}
		s, err := lifecycle.Deadlines(st.RoutedAt.Time, st.SLA.Policy, nil, target)
		if err != nil {
			return time.Time{}, err
		}
		if by := s.AcknowledgeBy.Time; by.Truncate(time.Second).Equal(st.SLA.AcknowledgeBy.Time) {
			return by, nil
		}
		return time.Time{}, fmt.Errorf("routed at %s, acknowledge within %s is due %s, but status records %s",
			st.RoutedAt.UTC().Format(time.RFC3339Nano), within, s.AcknowledgeBy.UTC().Format(time.RFC3339Nano), st.SLA.AcknowledgeBy.UTC().Format(time.RFC3339))
	}}
	ctx, cancel := context.WithTimeout(context.Background(), within+5*time.Minute)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- b.follow(ctx, watcher, n) }()

	// Created at a fixed rate, so that the deadlines fall at the same rate
	// however fast the operator routes: 60 a second, 1,000 within 17 s,
	// each at its own instant within the second.
	ticker := time.NewTicker(time.Second / timerRate)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		<-ticker.C
		wg.Go(func() {
			if err := k8sClient.Create(ctx, incident(ns, i)); err != nil {
				t.Error(err)
			}
		})
	}
	ticker.Stop()
	wg.Wait()
	waitForDeliveries(t, s, n, 5*time.Minute)
	// What the operator spends from here on is the breaches', when no
	// deadline has come yet.
	cpuBefore, beforeDeadlines := scrape(t, metricsURL)["process_cpu_seconds_total"], time.Since(start) < within
	if err := <-stopped; err != nil {
		t.Fatalf("%d of %d breaches seen: %v", len(b.lags), n, err)
	}
	if beforeDeadlines {
		t.Logf("timers: the operator spent %.2f ms of CPU a breach", (scrape(t, metricsURL)["process_cpu_seconds_total"]-cpuBefore)/float64(n)*1000)
	}
	if b.rewatches > 0 || b.relists > 0 {
		t.Logf("timers: the watch of incidents was resumed %d times and the incidents listed again %d times", b.rewatches, b.relists)
	}
	lags := make([]time.Duration, 0, n)
	for _, l := range b.lags {
		lags = append(lags, l)
	}
	d := distributionOf(lags)
	d.spread = b.spread()
	return d
}

// notificationSecret labels a Secret for the operator to read.
var notificationSecret = map[string]string{securityv1alpha1.NotificationSecretLabel: "true"}
