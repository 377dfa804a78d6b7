package chart

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// The chart against the real API server, in the order a platform team
// meets it: everything it renders, optional parts included, is accepted
// into a namespace that enforces Pod Security "restricted"; then install,
// upgrade (which updates the CRDs), uninstall (which keeps them, and the
// incidents) and install again. The steps depend on each other.
func TestChartOnTheAPIServer(t *testing.T) {
	restrictedNamespace(t, namespace)
	restrictedNamespace(t, witnessNamespace)
	// The prometheus-operator's CRDs, so that the API server checks the
	// ServiceMonitor and PrometheusRule against their schemas.
	mustKubectl(t, "", "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "test", "chart", "testdata"))
	mustKubectl(t, "", "wait", "--for=condition=established", "--timeout=60s",
		"crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com")

	t.Run("every object is accepted in a restricted namespace", func(t *testing.T) {
		objects := render(t,
			"serviceMonitor.enabled=true", "prometheusRule.enabled=true", "grafanaDashboard.enabled=true",
			"metrics.readers[0].name=prometheus", "metrics.readers[0].namespace=monitoring",
			"smtp.address=smtp.example.org:587", "smtp.from=incidents@example.org",
			"smtp.credentialsSecret=smtp-login", "smtp.caConfigMap=smtp-ca",
			"networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring",
			"auditArchive.persistence.enabled=true", "auditArchive.persistence.accessModes={ReadWriteMany}",
			"auditWitness.url=http://incident-witness.incident-witness.svc:8448", "auditWitness.verifierKey="+witnessVerifierKey)
		var crds, rest []*unstructured.Unstructured
		var names []string
		for _, obj := range objects {
			if obj.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, obj)
				names = append(names, "crd/"+obj.GetName())
			} else {
				rest = append(rest, obj)
			}
		}
		// Custom resources cannot be dry-run before their CRDs exist.
		mustKubectl(t, toStream(t, crds), "apply", "--server-side", "-f", "-")
		mustKubectl(t, "", append([]string{"wait", "--for=condition=established", "--timeout=60s"}, names...)...)

		out := mustKubectl(t, toStream(t, rest), "apply", "--server-side", "--dry-run=server", "-f", "-")
		if strings.Contains(out, "Warning") {
			t.Errorf("the API server warns about what the chart renders:\n%s", out)
		}
		for _, kind := range []string{"deployment.apps", "servicemonitor.monitoring.coreos.com", "prometheusrule.monitoring.coreos.com",
			"networkpolicy.networking.k8s.io", "poddisruptionbudget.policy", "validatingadmissionpolicy.admissionregistration.k8s.io",
			"mutatingadmissionpolicy.admissionregistration.k8s.io", "clusterrole.rbac.authorization.k8s.io/incident-operator-incident-viewer",
			"persistentvolumeclaim/" + release + "-audit-archive"} {
			if !strings.Contains(out, kind) {
				t.Errorf("the dry run did not apply any %s:\n%s", kind, out)
			}
		}

		// Pod Security enforces on pods, and only warns on Deployments: a
		// pod made from the Deployment's template must be admitted, and the
		// same pod running as root refused, or the namespace enforces nothing.
		checkPodAdmitted(t, rest, namespace)
	})

	t.Run("the witness's objects are accepted in a restricted namespace of its own", func(t *testing.T) {
		objects := renderRelease(t, witnessRelease, witnessNamespace, witnessChartDir, append(witnessValues(witnessVerifierKey),
			"networkPolicy.from[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name="+namespace)...)
		out := mustKubectl(t, toStream(t, objects), "apply", "--server-side", "--dry-run=server", "-f", "-")
		if strings.Contains(out, "Warning") {
			t.Errorf("the API server warns about what the witness chart renders:\n%s", out)
		}
		for _, kind := range []string{"deployment.apps", "service", "persistentvolumeclaim", "serviceaccount", "networkpolicy.networking.k8s.io"} {
			if !strings.Contains(out, kind+"/") {
				t.Errorf("the dry run did not apply any %s:\n%s", kind, out)
			}
		}
		checkPodAdmitted(t, objects, witnessNamespace)
	})

	t.Run("install takes over what make install applied before", func(t *testing.T) {
		// make install applies the admission policies with kubectl too;
		// Helm takes them over with the CRDs, forcing its field manager
		// over kubectl's, as the README says.
		mustKubectl(t, "", "apply", "--server-side", "-k", filepath.Join(testenv.RepoRoot(), "config", "admission"))
		mustHelm(t, "install", release, chartDir, "--namespace", namespace, "--take-ownership", "--force-conflicts")
		if err := testenv.WaitForAdmissionPolicies(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		// The regimes are a chart of their own, installed after the CRDs:
		// Helm could not map a RegulatoryRegime in the release that creates
		// its CRD.
		mustHelm(t, "install", release+"-regimes", regimesChartDir, "--namespace", namespace)
		if got := mustKubectl(t, "", "get", "regulatoryregime", "uk-gdpr", "-o", "jsonpath={.spec.stages[0].deadline}"); got != "72h" {
			t.Errorf("the uk-gdpr regime installed by its chart: first deadline %q", got)
		}
		mustKubectl(t, "", "create", "namespace", "records")
		mustKubectl(t, `apiVersion: security.incidentops.io/v1alpha1
kind: Incident
metadata: {name: lost-laptop, namespace: records}
spec: {title: Laptop left on a train, category: Loss, severity: High, reporter: {name: Priya Shah}}
`, "create", "-f", "-")
	})

	t.Run("upgrade changes the Deployment and updates the CRDs", func(t *testing.T) {
		// A copy of the chart whose Incident CRD gains a short name, as a
		// new release's CRDs gain fields: Helm upgrades CRDs in templates/.
		upgraded := copyChart(t)
		crd := filepath.Join(upgraded, "files", "crd", "security.incidentops.io_incidents.yaml")
		data, err := os.ReadFile(crd)
		if err != nil {
			t.Fatal(err)
		}
		changed := strings.Replace(string(data), "    shortNames:\n", "    shortNames:\n    - incupgraded\n", 1)
		if changed == string(data) {
			t.Fatal("the Incident CRD has no shortNames to extend")
		}
		if err := os.WriteFile(crd, []byte(changed), 0o600); err != nil {
			t.Fatal(err)
		}
		// kubectl applied the CRDs first and so shares their fields: the
		// first upgrade forces Helm's changes through, as the README says.
		mustHelm(t, "upgrade", release, upgraded, "--namespace", namespace, "--set", "replicaCount=3", "--force-conflicts",
			"--set", "auditArchive.persistence.enabled=true", "--set", "auditArchive.persistence.accessModes={ReadWriteMany}")
		if got := mustKubectl(t, "", "-n", namespace, "get", "deployment", release+"-controller-manager", "-o", "jsonpath={.spec.replicas}"); got != "3" {
			t.Errorf("after helm upgrade --set replicaCount=3 the Deployment has %s replicas", got)
		}
		if got := mustKubectl(t, "", "get", "crd", "incidents.security.incidentops.io", "-o", "jsonpath={.spec.names.shortNames}"); !strings.Contains(got, "incupgraded") {
			t.Errorf("helm upgrade did not update the Incident CRD: short names %s", got)
		}
	})

	var archiveClaim string
	t.Run("uninstall keeps the CRDs, the admission policies, the regimes, the incidents and the archive", func(t *testing.T) {
		if out := mustHelm(t, "uninstall", release+"-regimes", "--namespace", namespace); !strings.Contains(out, "kept due to the resource policy") {
			t.Errorf("helm uninstall does not say it kept the regimes:\n%s", out)
		}
		for _, regime := range readConfig(t, "regimes/*.yaml") {
			mustKubectl(t, "", "get", "regulatoryregime", regime.GetName())
		}
		out := mustHelm(t, "uninstall", release, "--namespace", namespace)
		if !strings.Contains(out, "kept due to the resource policy") {
			t.Errorf("helm uninstall does not say it kept the CRDs:\n%s", out)
		}
		if out, err := kubectl("", "-n", namespace, "get", "deployment", release+"-controller-manager"); err == nil {
			t.Errorf("the Deployment is still there after helm uninstall:\n%s", out)
		}
		for _, crd := range readConfig(t, "crd/bases/*.yaml") {
			mustKubectl(t, "", "get", "crd", crd.GetName())
		}
		// Without its admission policies an incident kept could be edited
		// with a forged reporter or acknowledgement.
		for _, policy := range readConfig(t, "admission/*.yaml") {
			mustKubectl(t, "", "get", strings.ToLower(policy.GetKind())+"."+policy.GroupVersionKind().Group, policy.GetName())
		}
		if got := mustKubectl(t, "", "-n", "records", "get", "incident", "lost-laptop", "-o", "jsonpath={.spec.title}"); got != "Laptop left on a train" {
			t.Errorf("the incident after helm uninstall: title %q", got)
		}
		archiveClaim = keptClaim(t, namespace, release+"-audit-archive")
	})

	t.Run("install again adopts the kept CRDs and the archive", func(t *testing.T) {
		mustHelm(t, "install", release, chartDir, "--namespace", namespace,
			"--set", "auditArchive.persistence.enabled=true", "--set", "auditArchive.persistence.accessModes={ReadWriteMany}")
		if got := mustKubectl(t, "", "-n", namespace, "get", "persistentvolumeclaim", release+"-audit-archive", "-o", "jsonpath={.metadata.uid}"); got != archiveClaim {
			t.Errorf("installing again made another archive claim (uid %s), not the kept one (uid %s)", got, archiveClaim)
		}
		if got := mustHelm(t, "status", release, "--namespace", namespace); !strings.Contains(got, "STATUS: deployed") {
			t.Errorf("helm status:\n%s", got)
		}
		if got := mustKubectl(t, "", "get", "crd", "incidents.security.incidentops.io", "-o", "jsonpath={.spec.names.shortNames}"); strings.Contains(got, "incupgraded") {
			t.Errorf("installing the chart again did not bring the CRD back to the chart's: short names %s", got)
		}
		mustKubectl(t, "", "-n", "records", "get", "incident", "lost-laptop")
		mustHelm(t, "install", release+"-regimes", regimesChartDir, "--namespace", namespace)
	})
}

// The witness chart, installed by the real helm: never into the namespace
// where the operator publishes its log key, and its state outlives the
// release, as the archive does.
func TestWitnessChartOnTheAPIServer(t *testing.T) {
	const operatorNamespace = "witness-test-operator"
	restrictedNamespace(t, operatorNamespace)
	// What the operator publishes in its namespace on its first start.
	mustKubectl(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: incident-operator-audit-log-key, namespace: `+operatorNamespace+`}
data: {verifier: "`+witnessVerifierKey+`"}
`, "apply", "-f", "-")
	values := []string{}
	for _, s := range witnessValues(witnessVerifierKey) {
		values = append(values, "--set", s)
	}
	out, err := helm(append([]string{"install", witnessRelease, witnessChartDir, "--namespace", operatorNamespace}, values...)...)
	if err == nil || !strings.Contains(out, "install the witness in a namespace of its own") {
		t.Errorf("helm install of the witness into the operator's namespace: %v, want it refused\n%s", err, out)
	}

	ns := "witness-test"
	restrictedNamespace(t, ns)
	mustHelm(t, append([]string{"install", witnessRelease, witnessChartDir, "--namespace", ns}, values...)...)
	claim := witnessRelease + "-state"
	if out := mustHelm(t, "uninstall", witnessRelease, "--namespace", ns); !strings.Contains(out, "kept due to the resource policy") {
		t.Errorf("helm uninstall does not say it kept the witness's state:\n%s", out)
	}
	uid := keptClaim(t, ns, claim)
	if out, err := kubectl("", "-n", ns, "get", "deployment", witnessRelease); err == nil {
		t.Errorf("the witness's Deployment is still there after helm uninstall:\n%s", out)
	}
	mustHelm(t, append([]string{"install", witnessRelease, witnessChartDir, "--namespace", ns}, values...)...)
	if got := mustKubectl(t, "", "-n", ns, "get", "persistentvolumeclaim", claim, "-o", "jsonpath={.metadata.uid}"); got != uid {
		t.Errorf("installing the witness again made another state claim (uid %s), not the kept one (uid %s)", got, uid)
	}
}

// keptClaim is the uid of the claim, which must be there and not being
// deleted: the API server's pvc-protection finalizer, which nothing
// removes here, would leave a deleted claim visible.
func keptClaim(t *testing.T, ns, name string) string {
	t.Helper()
	out := mustKubectl(t, "", "-n", ns, "get", "persistentvolumeclaim", name, "-o", "jsonpath={.metadata.uid} {.metadata.deletionTimestamp}")
	uid, deleted, _ := strings.Cut(out, " ")
	if deleted != "" {
		t.Errorf("helm uninstall deleted the claim %s/%s (at %s): it must keep it", ns, name, deleted)
	}
	return uid
}

// restrictedNamespace creates a namespace that enforces Pod Security
// "restricted".
func restrictedNamespace(t *testing.T, name string) {
	t.Helper()
	mustKubectl(t, `apiVersion: v1
kind: Namespace
metadata:
  name: `+name+`
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/warn-version: latest
`, "apply", "-f", "-")
}

// checkPodAdmitted checks what Pod Security enforces on pods, and only
// warns on Deployments: a pod made from the rendered Deployment's template
// must be admitted into ns, and the same pod running as root refused, or
// the namespace enforces nothing.
func checkPodAdmitted(t *testing.T, objects []*unstructured.Unstructured, ns string) {
	t.Helper()
	var template map[string]any
	for _, obj := range objects {
		if obj.GetKind() == "Deployment" {
			template, _, _ = unstructured.NestedMap(obj.Object, "spec", "template")
		}
	}
	if template == nil {
		t.Fatal("the chart renders no Deployment")
	}
	pod := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": template["spec"],
		"metadata": map[string]any{"name": "pod-of-the-chart", "namespace": ns}}}
	if out, err := kubectl(toStream(t, []*unstructured.Unstructured{pod}), "create", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("the chart's pod violates Pod Security restricted in %s:\n%s", ns, out)
	}
	root := pod.DeepCopy()
	_ = unstructured.SetNestedField(root.Object, false, "spec", "securityContext", "runAsNonRoot")
	if out, err := kubectl(toStream(t, []*unstructured.Unstructured{root}), "create", "--dry-run=server", "-f", "-"); err == nil || !strings.Contains(out, "violates PodSecurity") {
		t.Errorf("a pod running as root was not refused in %s, so the namespace enforces nothing: %v\n%s", ns, err, out)
	}
}

func mustHelm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helm(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// copyChart copies the chart into a temporary directory.
func copyChart(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "incident-operator")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	return dir
}
