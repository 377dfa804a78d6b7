package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// deploymentName is the chart's Deployment of the operator.
const deploymentName = release + "-controller-manager"

// managerSelector selects the operator's Pods, as the chart labels them.
var managerSelector = labels.SelectorFromSet(labels.Set{
	"app.kubernetes.io/name":      release,
	"app.kubernetes.io/instance":  release,
	"app.kubernetes.io/component": "manager",
}).String()

// operatorPods are the operator's Pods that are not being deleted.
func operatorPods(ctx context.Context) ([]corev1.Pod, error) {
	list, err := node.Clientset.CoreV1().Pods(operatorNamespace).List(ctx, metav1.ListOptions{LabelSelector: managerSelector})
	if err != nil {
		return nil, err
	}
	var pods []corev1.Pod
	for _, pod := range list.Items {
		if pod.DeletionTimestamp == nil {
			pods = append(pods, pod)
		}
	}
	return pods, nil
}

func podReady(pod *corev1.Pod) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitForRollout waits until the Deployment has rolled out its current
// template, every replica Ready, and no other operator Pod is left.
func waitForRollout(timeout time.Duration) error {
	ctx := context.Background()
	return poll(timeout, 500*time.Millisecond, func() error {
		d, err := node.Clientset.AppsV1().Deployments(operatorNamespace).Get(ctx, deploymentName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := ptr.Deref(d.Spec.Replicas, 1)
		s := d.Status
		if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.ReadyReplicas != want || s.AvailableReplicas != want || s.Replicas != want {
			return fmt.Errorf("deployment %s: generation %d observed %d, replicas %d updated %d ready %d available %d, want %d",
				deploymentName, d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, want)
		}
		all, err := node.Clientset.CoreV1().Pods(operatorNamespace).List(ctx, metav1.ListOptions{LabelSelector: managerSelector})
		if err != nil {
			return err
		}
		if len(all.Items) != int(want) {
			return fmt.Errorf("%d operator pods, want %d", len(all.Items), want)
		}
		for _, pod := range all.Items {
			if !podReady(&pod) {
				return fmt.Errorf("pod %s is not Ready", pod.Name)
			}
		}
		return nil
	})
}

// leaseHolder is the identity holding the operator's Lease and the Pod it
// names (identities are <pod>_<uuid>).
func leaseHolder(ctx context.Context) (identity, pod string, err error) {
	lease, err := node.Clientset.CoordinationV1().Leases(operatorNamespace).Get(ctx, leaseName, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	identity = ptr.Deref(lease.Spec.HolderIdentity, "")
	pod, _, _ = strings.Cut(identity, "_")
	return identity, pod, nil
}

// leaderElection is the lease timing the Deployment runs with, as the
// chart's values set it.
type leaderElection struct{ LeaseDuration, RenewDeadline, RetryPeriod time.Duration }

func deployedLeaderElection(t *testing.T) leaderElection {
	t.Helper()
	d, err := node.Clientset.AppsV1().Deployments(operatorNamespace).Get(context.Background(), deploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var le leaderElection
	for _, arg := range d.Spec.Template.Spec.Containers[0].Args {
		name, value, _ := strings.Cut(arg, "=")
		target := map[string]*time.Duration{
			"--leader-elect-lease-duration": &le.LeaseDuration,
			"--leader-elect-renew-deadline": &le.RenewDeadline,
			"--leader-elect-retry-period":   &le.RetryPeriod,
		}[name]
		if target == nil {
			continue
		}
		if *target, err = time.ParseDuration(value); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
	}
	if le.LeaseDuration == 0 || le.RenewDeadline == 0 || le.RetryPeriod == 0 {
		t.Fatalf("the Deployment does not set the lease's timing: %v", d.Spec.Template.Spec.Containers[0].Args)
	}
	return le
}

// token is a ServiceAccount token the API server issues for monitoring/name.
func token(t *testing.T, name string) string {
	t.Helper()
	tr, err := node.Clientset.CoreV1().ServiceAccounts("monitoring").CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// scrape GETs https://addr/metrics with the bearer token (none when
// empty); the operator's certificate is its own, self-signed.
func scrape(addr, bearer string) (int, string, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the operator's self-signed serving certificate
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
	if err != nil {
		return 0, "", err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// leadersByMetrics scrapes each operator Pod and returns those that say
// they lead (leader_election_master_status 1).
func leadersByMetrics(t *testing.T, bearer string) []string {
	t.Helper()
	pods, err := operatorPods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var leaders []string
	for _, pod := range pods {
		code, body, err := scrape(net.JoinHostPort(pod.Status.PodIP, "8443"), bearer)
		if err != nil || code != http.StatusOK {
			t.Fatalf("scraping pod %s at %s: %d %v", pod.Name, pod.Status.PodIP, code, err)
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "leader_election_master_status{") && strings.HasSuffix(line, " 1") {
				leaders = append(leaders, pod.Name)
			}
		}
	}
	return leaders
}

// checkOneLeader checks that the Lease names a running, Ready operator Pod,
// and that of the Pods exactly that one says it leads.
func checkOneLeader(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	bearer := token(t, "scraper")
	var holder string
	err := poll(30*time.Second, 500*time.Millisecond, func() error {
		_, pod, err := leaseHolder(ctx)
		if err != nil {
			return err
		}
		pods, err := operatorPods(ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(pods, func(p corev1.Pod) bool { return p.Name == pod && podReady(&p) }) {
			return fmt.Errorf("the lease is held by %q, which is not a Ready operator pod", pod)
		}
		if leaders := leadersByMetrics(t, bearer); len(leaders) != 1 || leaders[0] != pod {
			return fmt.Errorf("pods saying they lead: %v, want only the lease's holder %s", leaders, pod)
		}
		holder = pod
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return holder
}

// report files a phishing incident as rob, the reporter.
func report(name string) error {
	incident := fmt.Sprintf(`apiVersion: security.incidentops.io/v1alpha1
kind: Incident
metadata: {name: %s, namespace: %s}
spec:
  title: Phishing mail asked for payroll logins (%s)
  category: Phishing
  severity: High
  reporter: {name: Rob Byrne, email: rob.byrne@example.org, department: Payroll}
`, name, userNamespace, name)
	out, err := kubectlAs(people["rob"], incident, "apply", "-f", "-")
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// notifiedAt is when the sink first heard of the incident with the notice
// ("" for the first notification).
func notifiedAt(name, notice string) (time.Time, bool) {
	for _, d := range notifications.Deliveries() {
		if d.Message.Incident.Name == name && d.Message.Incident.Namespace == userNamespace && d.Message.Notice == notice {
			return d.At, true
		}
	}
	return time.Time{}, false
}

// waitNotified waits until every incident named reached the sink.
func waitNotified(t *testing.T, names []string, timeout time.Duration) {
	t.Helper()
	err := poll(timeout, 200*time.Millisecond, func() error {
		var missing []string
		for _, name := range names {
			if _, ok := notifiedAt(name, ""); !ok {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d of %d incidents not notified: %v", len(missing), len(names), missing)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// reporter files incidents named prefix-N every interval until stopped,
// and returns their names.
type reporter struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	names []string
	errs  []error
}

func startReporting(prefix string, interval time.Duration) *reporter {
	r := &reporter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for i := 0; ; i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			err := report(name)
			r.mu.Lock()
			if err != nil {
				r.errs = append(r.errs, err)
			} else {
				r.names = append(r.names, name)
			}
			r.mu.Unlock()
			select {
			case <-r.stop:
				return
			case <-time.After(interval):
			}
		}
	}()
	return r
}

func (r *reporter) finish(t *testing.T) []string {
	t.Helper()
	close(r.stop)
	<-r.done
	for _, err := range r.errs {
		t.Errorf("reporting during the change: %v", err)
	}
	return r.names
}

func TestReplicasRunningAndReady(t *testing.T) {
	ctx := context.Background()
	pods, err := operatorPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 {
		t.Fatalf("%d operator pods, want the chart's 2 replicas", len(pods))
	}
	for _, pod := range pods {
		c := pod.Spec.Containers[0]
		if pod.Spec.NodeName != nodeName || pod.Status.Phase != corev1.PodRunning || !podReady(&pod) {
			t.Errorf("pod %s: node %q phase %s ready %v, want Running and Ready on %s", pod.Name, pod.Spec.NodeName, pod.Status.Phase, podReady(&pod), nodeName)
		}
		if c.Image != imageRef() {
			t.Errorf("pod %s runs %s, want the image make image built, %s", pod.Name, c.Image, imageRef())
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil {
			t.Errorf("pod %s: want HTTP readiness and liveness probes, got %+v and %+v", pod.Name, c.ReadinessProbe, c.LivenessProbe)
		}
		if len(pod.Status.ContainerStatuses) != 1 || !pod.Status.ContainerStatuses[0].Ready || pod.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("pod %s: container statuses %+v, want one Ready container never restarted", pod.Name, pod.Status.ContainerStatuses)
		}
		if pod.Status.PodIP == "" || !strings.HasPrefix(pod.Status.PodIP, "10.244.0.") {
			t.Errorf("pod %s has address %q, want one on the bridge %s", pod.Name, pod.Status.PodIP, podSubnet)
		}
	}
	// The kubelet's own probes said Ready; ask the probe endpoint too, as
	// the kubelet does, from the node.
	for _, pod := range pods {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get("http://" + net.JoinHostPort(pod.Status.PodIP, "8081") + path)
			if err != nil {
				t.Errorf("pod %s %s: %v", pod.Name, path, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("pod %s %s: %d", pod.Name, path, resp.StatusCode)
			}
		}
	}
}

func TestOneLeader(t *testing.T) {
	leader := checkOneLeader(t)
	t.Logf("leader: %s", leader)
}

func TestMetricsThroughService(t *testing.T) {
	ctx := context.Background()
	svc, err := node.Clientset.CoreV1().Services(operatorNamespace).Get(ctx, release+"-metrics", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port)))
	// The chart binds its metrics-reader ClusterRole to monitoring/scraper
	// (metrics.readers); stranger is a ServiceAccount with no such binding.
	for _, tc := range []struct {
		who  string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"stranger", http.StatusForbidden},
		{"scraper", http.StatusOK},
	} {
		bearer := ""
		if tc.who != "" {
			bearer = token(t, tc.who)
		}
		code, body, err := scrape(addr, bearer)
		if err != nil {
			t.Fatalf("scraping the Service at %s: %v", addr, err)
		}
		if code != tc.want {
			t.Errorf("scraping %s as %q: %d, want %d\n%.300s", addr, tc.who, code, tc.want, body)
		}
		// Either Pod may answer; the standby has reconciled nothing yet,
		// so look for what both serve.
		if code == http.StatusOK && (!strings.Contains(body, "\ncontroller_runtime_") || !strings.Contains(body, "\ngo_goroutines ")) {
			t.Errorf("the metrics lack controller-runtime's and Go's:\n%.500s", body)
		}
	}
}

func TestPodDisruptionBudgetAndNetworkPolicy(t *testing.T) {
	ctx := context.Background()
	pods, err := operatorPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var podNames []string
	for _, p := range pods {
		podNames = append(podNames, p.Name)
	}
	slices.Sort(podNames)
	selected := func(selector *metav1.LabelSelector) []string {
		s, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pods {
			if s.Matches(labels.Set(p.Labels)) {
				names = append(names, p.Name)
			}
		}
		slices.Sort(names)
		return names
	}

	pdb, err := node.Clientset.PolicyV1().PodDisruptionBudgets(operatorNamespace).Get(ctx, deploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := selected(pdb.Spec.Selector); !slices.Equal(got, podNames) {
		t.Errorf("the PodDisruptionBudget selects %v, want the operator's pods %v", got, podNames)
	}
	// The disruption controller's view: both healthy, one may go.
	if err := poll(30*time.Second, 500*time.Millisecond, func() error {
		pdb, err = node.Clientset.PolicyV1().PodDisruptionBudgets(operatorNamespace).Get(ctx, deploymentName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s := pdb.Status; s.ExpectedPods != 2 || s.CurrentHealthy != 2 || s.DesiredHealthy != 1 || s.DisruptionsAllowed != 1 {
			return fmt.Errorf("PodDisruptionBudget status %+v, want 2 expected and healthy, 1 desired, 1 disruption allowed", s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	np, err := node.Clientset.NetworkingV1().NetworkPolicies(operatorNamespace).Get(ctx, deploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := selected(&np.Spec.PodSelector); !slices.Equal(got, podNames) {
		t.Errorf("the NetworkPolicy selects %v, want the operator's pods %v", got, podNames)
	}
	// Its ports are the container's named ports; a name the container
	// does not have would shut the port once a plugin enforces the policy.
	containerPorts := map[string]int32{}
	for _, p := range pods[0].Spec.Containers[0].Ports {
		containerPorts[p.Name] = p.ContainerPort
	}
	open := map[string]bool{}
	for _, rule := range np.Spec.Ingress {
		for _, port := range rule.Ports {
			if port.Port == nil {
				t.Errorf("an ingress rule opens every port: %+v", rule)
				continue
			}
			if _, ok := containerPorts[port.Port.String()]; !ok && port.Port.Type == intstr.String {
				t.Errorf("the NetworkPolicy opens port %s, which the container does not have (%v)", port.Port, containerPorts)
			}
			open[port.Port.String()] = true
		}
	}
	if !open["metrics"] || !open["probes"] || len(open) != 2 {
		t.Errorf("the NetworkPolicy opens %v, want the metrics and probes ports only", open)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policy types %v, want Ingress only (egress open by default)", np.Spec.PolicyTypes)
	}
}

func TestEvictionHonoursTheBudget(t *testing.T) {
	ctx := context.Background()
	pods, err := operatorPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 {
		t.Fatalf("%d operator pods, want 2", len(pods))
	}
	began := time.Now()
	evict := func(pod string) error {
		return node.Clientset.PolicyV1().Evictions(operatorNamespace).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: operatorNamespace}})
	}
	if err := evict(pods[0].Name); err != nil {
		t.Fatalf("evicting %s with both replicas healthy: %v", pods[0].Name, err)
	}
	err = evict(pods[1].Name)
	if err == nil || !apierrors.IsTooManyRequests(err) {
		t.Fatalf("evicting %s while %s is going: %v, want 429 (the budget allows one disruption)", pods[1].Name, pods[0].Name, err)
	}
	if err := waitForRollout(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	checkOneLeader(t)
	t.Logf("one evicted, the second refused, two Ready again after %s", time.Since(began).Round(100*time.Millisecond))
}

func TestIncidentFlow(t *testing.T) {
	ctx := context.Background()
	name := "phishing-payroll-logins"
	began := time.Now()
	if err := report(name); err != nil {
		t.Fatal(err)
	}
	condition := func(kind string) string {
		out, _ := kubectl("", "-n", userNamespace, "get", "incident", name, "-o", `jsonpath={.status.conditions[?(@.type=="`+kind+`")].status}`)
		return strings.TrimSpace(out)
	}
	if err := poll(30*time.Second, 200*time.Millisecond, func() error {
		if condition("Routed") != "True" || condition("Notified") != "True" {
			return fmt.Errorf("Routed=%s Notified=%s", condition("Routed"), condition("Notified"))
		}
		if _, ok := notifiedAt(name, ""); !ok {
			return fmt.Errorf("the sink has not heard of %s", name)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	at, _ := notifiedAt(name, "")
	t.Logf("reported by rob, routed and notified in %s", at.Sub(began).Round(time.Millisecond))

	// Neither the reporter, the responder nor the namespace's admin may
	// delete it, as the README's table of roles says.
	for _, who := range []string{"rob", "rita", "nadia"} {
		if out, err := kubectlAs(people[who], "", "-n", userNamespace, "delete", "incident", name); err == nil || !strings.Contains(out, "Forbidden") {
			t.Errorf("%s deleting the incident: %v, want Forbidden\n%s", who, err, out)
		}
	}

	out, err := kubectlAs(people["rita"], "", "incident", "ack", name, "-n", userNamespace, "--note", "Blocking the sender")
	if err != nil || !strings.Contains(out, "acknowledged by rita") {
		t.Fatalf("kubectl incident ack as rita: %v\n%s", err, out)
	}
	if err := poll(30*time.Second, 200*time.Millisecond, func() error {
		phase, _ := kubectl("", "-n", userNamespace, "get", "incident", name, "-o", "jsonpath={.status.phase}")
		if phase != "Acknowledged" {
			return fmt.Errorf("phase %q", phase)
		}
		if _, ok := notifiedAt(name, "Acknowledged"); !ok {
			return fmt.Errorf("the sink has not heard that %s was acknowledged", name)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A cluster administrator may delete an incident under no hold.
	deleted := time.Now()
	if out, err := kubectl("", "-n", userNamespace, "delete", "incident", name, "--wait=false"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := poll(10*time.Second, 100*time.Millisecond, func() error {
		_, err := node.Clientset.RESTClient().Get().AbsPath("/apis/security.incidentops.io/v1alpha1/namespaces", userNamespace, "incidents", name).DoRaw(ctx)
		if err == nil {
			return fmt.Errorf("incident %s is still there", name)
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted by the cluster administrator, gone after %s", time.Since(deleted).Round(time.Millisecond))

	// The auditor keeps the log's public key, as the administrator reads it.
	key := t.TempDir() + "/audit-log.pub"
	if err := os.WriteFile(key, []byte(mustKubectl(t, "", "incident", "audit", "key", "--operator-namespace", operatorNamespace)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = kubectlAs(people["rita"], "", "incident", "audit", "verify", name, "-n", userNamespace, "--log-key", key)
	if err != nil || !strings.Contains(out, "ending with its Deleted entry") || !strings.Contains(out, "Checkpoints were checked with the audit log key") {
		t.Fatalf("kubectl incident audit verify of the deleted incident: %v\n%s", err, out)
	}
	t.Logf("audit verify: %s", strings.TrimSpace(out))
}

// failover deletes or kills the leader and measures how long until another
// identity holds the Lease, and until an incident reported at that moment
// reaches the sink; incidents reported meanwhile must all arrive.
func failover(t *testing.T, how string, disrupt func(pod corev1.Pod) error) {
	ctx := context.Background()
	le := deployedLeaderElection(t)
	checkOneLeader(t)
	identity, leaderPod, err := leaseHolder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := node.Clientset.CoreV1().Pods(operatorNamespace).Get(ctx, leaderPod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "failover-" + how
	began := time.Now()
	if err := disrupt(*pod); err != nil {
		t.Fatal(err)
	}
	reporting := startReporting(prefix, 300*time.Millisecond)
	var acquired time.Duration
	var newHolder string
	if err := poll(le.LeaseDuration+le.RenewDeadline+30*time.Second, 50*time.Millisecond, func() error {
		holder, _, err := leaseHolder(ctx)
		if err != nil {
			return err
		}
		if holder == "" || holder == identity {
			return fmt.Errorf("the lease is still held by %q", holder)
		}
		acquired, newHolder = time.Since(began), holder
		return nil
	}); err != nil {
		reporting.finish(t)
		t.Fatal(err)
	}
	// Report a little longer, so that some reach the new leader only.
	time.Sleep(2 * time.Second)
	names := reporting.finish(t)
	if len(names) == 0 || names[0] != prefix+"-0" {
		t.Fatalf("the incident reported as the leader went was not made; made: %v", names)
	}
	waitNotified(t, names, time.Minute)
	first, _ := notifiedAt(prefix+"-0", "")
	notified := first.Sub(began)
	fmt.Printf("failover (leader %s): new leader %s after %s; the incident reported at that moment notified after %s; %d incidents reported during it, all notified (lease %s, renew deadline %s, retry %s)\n",
		how, newHolder, acquired.Round(10*time.Millisecond), notified.Round(10*time.Millisecond), len(names), le.LeaseDuration, le.RenewDeadline, le.RetryPeriod)
	// A standby takes over once the lease is released or expires, and
	// tries every retry period.
	if limit := le.LeaseDuration + 2*le.RetryPeriod + 3*time.Second; acquired > limit {
		t.Errorf("a new leader took %s, want at most %s (lease duration and two retry periods, and 3s)", acquired, limit)
	}
	if err := waitForRollout(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	checkOneLeader(t)
}

func TestFailoverLeaderPodDeleted(t *testing.T) {
	failover(t, "pod-deleted", func(pod corev1.Pod) error {
		out, err := kubectl("", "-n", operatorNamespace, "delete", "pod", pod.Name, "--wait=false")
		if err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		return nil
	})
}

func TestFailoverLeaderKilled(t *testing.T) {
	// SIGKILL, as an OOM kill or a crash: the lease is not released, and
	// the kubelet restarts the container.
	failover(t, "killed", func(pod corev1.Pod) error {
		id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
		_, err := node.ctr("tasks", "kill", "--signal", "SIGKILL", id)
		return err
	})
}

func TestHelmUpgrade(t *testing.T) {
	ctx := context.Background()
	checkOneLeader(t)
	before, err := operatorPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reporting := startReporting("upgrade", 300*time.Millisecond)
	began := time.Now()
	out, err := helm("upgrade", release, chartDir(), "--namespace", operatorNamespace, "--reuse-values", "--set", "logLevel=debug")
	if err != nil {
		reporting.finish(t)
		t.Fatalf("%v\n%s", err, out)
	}
	if err := poll(3*time.Minute, 500*time.Millisecond, func() error {
		if err := waitForRollout(time.Second); err != nil {
			return err
		}
		pods, err := operatorPods(ctx)
		if err != nil {
			return err
		}
		for _, pod := range pods {
			if slices.ContainsFunc(before, func(p corev1.Pod) bool { return p.Name == pod.Name }) {
				return fmt.Errorf("pod %s from before the upgrade is still there", pod.Name)
			}
			if !slices.Contains(pod.Spec.Containers[0].Args, "--zap-log-level=debug") {
				return fmt.Errorf("pod %s does not run with the new value: %v", pod.Name, pod.Spec.Containers[0].Args)
			}
		}
		return nil
	}); err != nil {
		reporting.finish(t)
		t.Fatal(err)
	}
	rolled := time.Since(began)
	time.Sleep(2 * time.Second)
	names := reporting.finish(t)
	if len(names) == 0 {
		t.Fatal("no incident was reported during the upgrade")
	}
	waitNotified(t, names, time.Minute)
	leader := checkOneLeader(t)
	status := mustKubectl(t, "", "-n", operatorNamespace, "get", "secret", "-l", "owner=helm,name="+release+",status=deployed", "-o", "jsonpath={.items[*].metadata.labels.version}")
	if strings.TrimSpace(status) != "2" {
		t.Errorf("deployed release revision %q, want 2", status)
	}
	fmt.Printf("helm upgrade: both pods replaced in %s, leader %s; %d incidents reported during it, all notified\n", rolled.Round(100*time.Millisecond), leader, len(names))
}

// operatorRequestsPolicy has the API server log its answers to the
// operator's ServiceAccount as the chart installs it, and nothing else.
const operatorRequestsPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    users: ["` + operatorAccount + `"]
  - level: None
`

// checkOperatorNeverForbidden fails when the API server refused the
// operator anything under the RBAC the chart installs, or saw nothing
// from it.
func checkOperatorNeverForbidden(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var seen int
	var refused []string
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var event struct {
			Verb       string `json:"verb"`
			RequestURI string `json:"requestURI"`
			User       struct {
				Username string `json:"username"`
			} `json:"user"`
			ResponseStatus struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"responseStatus"`
		}
		if err := json.Unmarshal(scanner.Bytes(), &event); err != nil {
			return err
		}
		if event.User.Username != operatorAccount {
			continue
		}
		seen++
		if event.ResponseStatus.Code == http.StatusForbidden {
			refused = append(refused, fmt.Sprintf("%s %s: %s", event.Verb, event.RequestURI, event.ResponseStatus.Message))
		}
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	if seen == 0 {
		return fmt.Errorf("the API server saw no request from %s", operatorAccount)
	}
	if len(refused) > 0 {
		return fmt.Errorf("the API server refused %d of the %d requests of %s under the chart's RBAC:\n  %s", len(refused), seen, operatorAccount, strings.Join(refused, "\n  "))
	}
	fmt.Printf("node: the API server answered %d requests of the operator's ServiceAccount, none forbidden\n", seen)
	return nil
}
