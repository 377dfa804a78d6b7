package chart

import (
	"bufio"
	"crypto/rand"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// The witness is a release of its own, in a namespace of its own.
const (
	witnessRelease   = "incident-witness"
	witnessNamespace = "incident-witness"
)

var witnessChartDir = filepath.Join(testenv.RepoRoot(), "charts", "incident-witness")

// witnessValues are the values the witness chart needs: its key's Secret
// and a log to cosign for.
func witnessValues(logKey string) []string {
	return []string{"signingKey.secretName=witness-key", "logs[0].origin=incident-operator/*", "logs[0].verifierKey=" + logKey}
}

func renderWitness(t *testing.T, set ...string) map[string]*unstructured.Unstructured {
	t.Helper()
	return byKindAndName(renderRelease(t, witnessRelease, witnessNamespace, witnessChartDir, set...))
}

// The witness chart renders its Deployment, Service, state claim (kept on
// uninstall), ServiceAccount and NetworkPolicy; helm lint --strict passes.
func TestWitnessChartRenders(t *testing.T) {
	set := witnessValues(witnessVerifierKey)
	lint := []string{"lint", "--strict", witnessChartDir}
	if out, err := helm(append(lint, setFlags(set)...)...); err != nil {
		t.Errorf("%v\n%s", err, out)
	}
	objects := renderWitness(t, set...)
	for _, want := range []string{key("Deployment", witnessRelease), key("Service", witnessRelease), key("ServiceAccount", witnessRelease),
		key("NetworkPolicy", witnessRelease), key("PersistentVolumeClaim", witnessRelease+"-state")} {
		if _, ok := objects[want]; !ok {
			t.Errorf("the witness chart renders no %s", want)
		}
	}
	if len(objects) != 5 {
		t.Errorf("the witness chart renders %d objects, want those 5: %v", len(objects), slices.Sorted(maps.Keys(objects)))
	}
	for k, obj := range objects {
		if obj.GetNamespace() != witnessNamespace {
			t.Errorf("%s is in namespace %q, want the release's, %s", k, obj.GetNamespace(), witnessNamespace)
		}
	}
	claim := objects[key("PersistentVolumeClaim", witnessRelease+"-state")]
	if claim == nil {
		t.Fatalf("the witness chart renders no PersistentVolumeClaim %s-state", witnessRelease)
	}
	if keep := claim.GetAnnotations()["helm.sh/resource-policy"]; keep != "keep" {
		t.Errorf("the witness's state claim: helm.sh/resource-policy = %q, want keep: a witness that loses its state cosigns a rewritten log", keep)
	}
	deployment := objects[key("Deployment", witnessRelease)]
	if got, _, _ := unstructured.NestedString(podVolume(t, deployment, "state"), "persistentVolumeClaim", "claimName"); got != claim.GetName() {
		t.Errorf("the witness's state volume names claim %q, want %s", got, claim.GetName())
	}
	if got, _, _ := unstructured.NestedString(podVolume(t, deployment, "key"), "secret", "secretName"); got != "witness-key" {
		t.Errorf("the witness's key comes from Secret %q, want signingKey.secretName, witness-key", got)
	}
	if replicas, _, _ := unstructured.NestedFieldNoCopy(deployment.Object, "spec", "replicas"); normalise(replicas) != 1.0 {
		t.Errorf("the witness runs %d replicas, want 1: its state has one writer", replicas)
	}
	if strategy, _, _ := unstructured.NestedString(deployment.Object, "spec", "strategy", "type"); strategy != "Recreate" {
		t.Errorf("the witness's strategy is %q, want Recreate: a rollout must never run two", strategy)
	}
	if automount, found, _ := unstructured.NestedBool(deployment.Object, "spec", "template", "spec", "automountServiceAccountToken"); !found || automount {
		t.Error("the witness's pod mounts a service account token; it calls no API")
	}
	if got := containerArgs(t, deployment); !slices.Contains(got, "--log=incident-operator/*="+witnessVerifierKey) {
		t.Errorf("the witness's args lack the log of logs[0]:\n%s", strings.Join(got, "\n"))
	}

	// The Service reaches the container's port.
	ports, _, _ := unstructured.NestedSlice(objects[key("Service", witnessRelease)].Object, "spec", "ports")
	container, _, _ := unstructured.NestedSlice(managerContainer(t, deployment), "ports")
	if len(ports) != 1 || len(container) != 1 || ports[0].(map[string]any)["targetPort"] != container[0].(map[string]any)["name"] {
		t.Errorf("the Service's ports %v do not reach the container's %v", ports, container)
	}
	// No egress: the witness calls nothing.
	policy := objects[key("NetworkPolicy", witnessRelease)]
	types, _, _ := unstructured.NestedStringSlice(policy.Object, "spec", "policyTypes")
	egress, _, _ := unstructured.NestedSlice(policy.Object, "spec", "egress")
	if !slices.Contains(types, "Egress") || len(egress) != 0 {
		t.Errorf("the witness's NetworkPolicy: policyTypes %v, egress %v; want every egress refused", types, egress)
	}
}

// The schema refuses a witness without its own key, or without a log.
func TestWitnessValuesSchemaRefusesBadValues(t *testing.T) {
	tests := map[string]struct {
		set  []string
		want string
	}{
		"no key Secret":        {[]string{"logs[0].origin=incident-operator/*", "logs[0].verifierKey=" + witnessVerifierKey}, "/signingKey/secretName"},
		"no log":               {[]string{"signingKey.secretName=witness-key"}, "/logs"},
		"a log without key":    {[]string{"signingKey.secretName=witness-key", "logs[0].origin=incident-operator/*"}, "/logs/0"},
		"a log key that isn't": {append(witnessValues(witnessVerifierKey), "logs[0].verifierKey=audit-log.pub"), "/logs/0/verifierKey"},
		"an origin with space": {append(witnessValues(witnessVerifierKey), "logs[0].origin=incident operator"), "/logs/0/origin"},
		"root":                 {append(witnessValues(witnessVerifierKey), "podSecurityContext.runAsNonRoot=false"), "/podSecurityContext/runAsNonRoot"},
		"writable root":        {append(witnessValues(witnessVerifierKey), "securityContext.readOnlyRootFilesystem=false"), "/securityContext/readOnlyRootFilesystem"},
		"misspelt key":         {append(witnessValues(witnessVerifierKey), "replicaCount=2"), "additional properties 'replicaCount' not allowed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := template(witnessRelease, witnessNamespace, witnessChartDir, setFlags(tc.set)...)
			if err == nil {
				t.Fatalf("helm template --set %v succeeded, want the schema to refuse it", tc.set)
			}
			if !strings.Contains(out, "values don't meet the specifications of the schema") || !strings.Contains(out, tc.want) {
				t.Errorf("helm template --set %v failed without naming %s:\n%s", tc.set, tc.want, out)
			}
		})
	}
	out, err := template(witnessRelease, witnessNamespace, witnessChartDir, append([]string{"--skip-schema-validation"}, setFlags(witnessValues(witnessVerifierKey)[1:])...)...)
	if err == nil || !strings.Contains(out, "signingKey.secretName is required") {
		t.Errorf("without the schema, a witness without its key Secret: %v\n%s", err, out)
	}
}

// The witness's binary runs with the args the chart renders, its files
// where the chart mounts them: each mount path becomes a directory of the
// test's, the key volume holding a key `witness keygen` wrote. It serves
// /healthz, which the chart's probes ask.
func TestWitnessBinaryRunsWithTheChartsArgs(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "witness")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(testenv.RepoRoot(), "cmd", "witness")).CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/witness: %v\n%s", err, out)
	}
	// A log key, as the operator makes it.
	_, logKey, err := note.GenerateKey(rand.Reader, "incident-operator")
	if err != nil {
		t.Fatal(err)
	}
	deployment := renderWitness(t, witnessValues(logKey)...)[key("Deployment", witnessRelease)]
	container := managerContainer(t, deployment)
	command, _, _ := unstructured.NestedStringSlice(container, "command")
	if !slices.Equal(command, []string{"/witness"}) {
		t.Fatalf("the container runs %q, want [/witness], where make image puts it", command)
	}

	// Each mount is a directory of the test's; the key volume's item is
	// the key keygen writes, under the item's path.
	mounts, _, _ := unstructured.NestedSlice(container, "volumeMounts")
	replacer := []string{}
	for _, m := range mounts {
		m := m.(map[string]any)
		local := filepath.Join(dir, "mounts", m["name"].(string))
		if err := os.MkdirAll(local, 0o700); err != nil {
			t.Fatal(err)
		}
		replacer = append(replacer, m["mountPath"].(string), local)
	}
	items, _, _ := unstructured.NestedSlice(podVolume(t, deployment, "key"), "secret", "items")
	if len(items) != 1 {
		t.Fatalf("the key volume projects %v, want one item", items)
	}
	keyFile := filepath.Join(dir, "mounts", "key", items[0].(map[string]any)["path"].(string))
	if out, err := exec.Command(bin, "keygen", "--name", "witness.example.org/security", "--key-file", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("witness keygen: %v\n%s", err, out)
	}
	args := containerArgs(t, deployment)
	paths := strings.NewReplacer(replacer...)
	for i, arg := range args {
		if arg == "--listen=:8448" {
			args[i] = "--listen=127.0.0.1:0"
			continue
		}
		args[i] = paths.Replace(arg)
	}
	if !slices.Contains(args, "--listen=127.0.0.1:0") {
		t.Fatalf("the witness's args do not listen on :8448, its container port:\n%s", strings.Join(args, "\n"))
	}

	serve := exec.Command(bin, args...)
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill() })
	var logged strings.Builder
	addr, exited := make(chan string, 1), make(chan error, 1)
	go func() {
		serving := regexp.MustCompile(`msg=serving addr=(\S+)`)
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			logged.WriteString(lines.Text() + "\n")
			if m := serving.FindStringSubmatch(lines.Text()); m != nil {
				addr <- m[1]
			}
		}
		exited <- serve.Wait()
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-exited:
		t.Fatalf("the witness exited with the chart's args %q: %v\n%s", args, err, logged.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the witness did not say where it serves in 30s") // its log is still being written
	}
	probe, _, _ := unstructured.NestedString(container, "readinessProbe", "httpGet", "path")
	resp, err := http.Get(base + probe)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the readiness probe's %s: %d %q", probe, resp.StatusCode, body)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM the witness exited with %v\n%s", err, logged.String())
		}
	case <-time.After(20 * time.Second):
		t.Error("the witness did not stop within 20s of SIGTERM")
	}
}
