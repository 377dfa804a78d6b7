package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// measureFallback creates incidents at rate per second whose one receiver
// answers 404 and measures, at the fallback receiver, how long each took
// from create to the fallback's notification: a permanent error must reach
// the fallback within seconds, not after every attempt the policy allows.
func measureFallback(t *testing.T, n, rate int) distribution {
	ns := newNamespace(t, "fallback")
	gone, goneURL := newSink(t)
	gone.Fail = func(int) int { return http.StatusNotFound }
	fallback, fallbackURL := newSink(t)
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks", Labels: notificationSecret},
		StringData: map[string]string{"gone": goneURL, "fallback": fallbackURL}}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	hook := func(key string) *securityv1alpha1.WebhookReceiver {
		return &securityv1alpha1.WebhookReceiver{URLSecretRef: securityv1alpha1.SecretKeyReference{Name: "hooks", Key: key}}
	}
	policy := &securityv1alpha1.EscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk"},
		Spec: securityv1alpha1.EscalationPolicySpec{
			Receivers:  []securityv1alpha1.Receiver{{Name: "gone", Webhook: hook("gone")}, {Name: "fallback", Webhook: hook("fallback")}},
			Escalation: securityv1alpha1.Escalation{Levels: []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "gone"}}}}},
			Delivery:   &securityv1alpha1.Delivery{MaxAttempts: 10, FallbackReceiver: "fallback"},
		},
	}
	if err := k8sClient.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	startOperator(t, ns, 1)

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
	waitForDeliveries(t, fallback, n, 5*time.Minute)
	if got := gone.Len(); got != n {
		t.Errorf("the 404 receiver got %d requests for %d incidents: a permanent error is tried once", got, n)
	}
	lags := make([]time.Duration, 0, n)
	for _, d := range fallback.Deliveries() {
		var i int
		if _, err := fmt.Sscanf(d.Message.Incident.Name, "inc-%05d", &i); err != nil {
			t.Fatal(err)
		}
		lags = append(lags, d.At.Sub(created[i]))
	}
	return distributionOf(lags)
}

// controlPlaneCPU is the CPU time, in seconds, the test's kube-apiserver
// and etcd have used so far: found by the API server's port, and etcd by
// the address the API server talks to it on.
func controlPlaneCPU(t testing.TB) float64 {
	t.Helper()
	host := strings.TrimSuffix(restConfig.Host, "/")
	port := host[strings.LastIndex(host, ":")+1:]
	var total float64
	var etcdURL string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	cmdlines := map[string][]string{}
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		cmdlines[filepath.Dir(p)] = args
		if strings.HasSuffix(args[0], "kube-apiserver") && hasArg(args, "--secure-port="+port) {
			total += cpuSeconds(t, filepath.Dir(p))
			for _, a := range args {
				if v, ok := strings.CutPrefix(a, "--etcd-servers="); ok {
					etcdURL = v
				}
			}
		}
	}
	if etcdURL == "" {
		t.Fatalf("the kube-apiserver serving %s was not found in /proc", restConfig.Host)
	}
	for dir, args := range cmdlines {
		if strings.HasSuffix(args[0], "etcd") && hasArg(args, "--listen-client-urls="+etcdURL) {
			total += cpuSeconds(t, dir)
		}
	}
	return total
}

func hasArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}

// cpuSeconds is a process's user and system time from /proc/<pid>/stat.
func cpuSeconds(t testing.TB, dir string) float64 {
	raw, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th of those.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return (utime + stime) / ticksPerSecond
}
