package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// zoneProbe loads a zone the way the operator's calendars do, from a binary
// built without embedded zone data.
const zoneProbe = `package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if _, err := time.LoadLocation(os.Args[1]); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}
`

// Calendars name IANA zones, and the image has no zoneinfo: the operator
// must carry its own. The image's operator, run in the image's root
// filesystem against a real API server, judges a policy whose business
// hours are in Europe/London Ready, and one in a zone that does not exist
// not Ready, which shows the zone is really loaded on that path.
func TestImagesOperatorLoadsEuropeLondon(t *testing.T) {
	// First, that the check means something: without embedded zone data,
	// Europe/London does not load inside the image.
	probe := filepath.Join(rootfs, "tmp", "zoneprobe")
	buildZoneProbe(t, probe)
	out, err := inImage(t, rootfs, nil, "/tmp/zoneprobe", "Europe/London").CombinedOutput()
	if err == nil {
		t.Fatal("a binary without time/tzdata loaded Europe/London inside the image, so the image's root filesystem does not hide the host's zoneinfo and this test proves nothing")
	}
	t.Logf("without embedded zone data, inside the image: %s", strings.TrimSpace(string(out)))

	env, err := testenv.New(true)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	// The kubeconfig, for the operator's ServiceAccount as installed, goes
	// where a mounted token would: into the container's filesystem,
	// readable by its user.
	if err := testenv.WriteOperatorKubeconfig(t.Context(), cfg, filepath.Join(rootfs, "tmp", "kubeconfig")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(rootfs, "tmp", "kubeconfig"), 0o644); err != nil {
		t.Fatal(err)
	}

	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hook", Labels: map[string]string{securityv1alpha1.NotificationSecretLabel: "true"}},
		StringData: map[string]string{"url": "http://127.0.0.1:9/"},
	}); err != nil {
		t.Fatal(err)
	}
	london, atlantis := calendarPolicy(t, "london", "Europe/London"), calendarPolicy(t, "atlantis", "Europe/Atlantis")
	for _, p := range []*securityv1alpha1.EscalationPolicy{london, atlantis} {
		if err := c.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	operator := inImage(t, rootfs, []string{"KUBECONFIG=/tmp/kubeconfig"}, "/manager",
		"--metrics-bind-address=0", "--health-probe-bind-address=0")
	var log strings.Builder
	operator.Stdout, operator.Stderr = &log, &log
	if err := operator.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = operator.Process.Signal(os.Interrupt)
		_ = operator.Wait()
		if t.Failed() {
			t.Logf("operator log:\n%s", log.String())
		}
	})

	ready := waitForReady(t, c, london)
	if ready.Status != metav1.ConditionTrue {
		t.Errorf("policy with a Europe/London calendar: Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
	}
	ready = waitForReady(t, c, atlantis)
	if ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, "unknown time zone") {
		t.Errorf("policy with a Europe/Atlantis calendar: Ready=%s %s: %s; want False naming the unknown time zone", ready.Status, ready.Reason, ready.Message)
	}
	if err := testenv.CheckOperatorNeverForbidden(env); err != nil {
		t.Error(err)
	}
}

func buildZoneProbe(t *testing.T, out string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(zoneProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", out, "main.go")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the zone probe: %v\n%s", err, b)
	}
	t.Cleanup(func() { _ = os.Remove(out) })
}

func calendarPolicy(t *testing.T, name, zone string) *securityv1alpha1.EscalationPolicy {
	t.Helper()
	policy := &securityv1alpha1.EscalationPolicy{}
	if err := yaml.UnmarshalStrict([]byte(fmt.Sprintf(`
metadata: {namespace: default, name: %s}
spec:
  receivers:
    - name: hook
      webhook: {urlSecretRef: {name: hook, key: url}}
  escalation:
    levels:
      - notify: [{receiver: hook}]
  sla:
    calendar: {timeZone: %s}
    targets:
      - severities: [High]
        acknowledgeWithin: 4h
        resolveWithin: 24h
        hours: Business
`, name, zone)), policy); err != nil {
		t.Fatal(err)
	}
	return policy
}

// waitForReady waits until the operator has judged the policy's current
// generation and returns its Ready condition.
func waitForReady(t *testing.T, c client.Client, policy *securityv1alpha1.EscalationPolicy) metav1.Condition {
	t.Helper()
	var ready *metav1.Condition
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(policy), policy); err != nil {
			return false, err
		}
		ready = meta.FindStatusCondition(policy.Status.Conditions, securityv1alpha1.ConditionReady)
		return ready != nil && ready.ObservedGeneration == policy.Generation, nil
	})
	if err != nil {
		t.Fatalf("waiting for policy %s to be judged: %v", policy.Name, err)
	}
	return *ready
}
