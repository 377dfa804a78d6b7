package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// values.schema.json refuses, before anything reaches the cluster, values
// that are mistyped or would break the operator or Pod Security.
func TestValuesSchemaRefusesBadValues(t *testing.T) {
	tests := map[string]struct {
		set  []string
		want string
	}{
		"no replica":                  {[]string{"replicaCount=0"}, "/replicaCount"},
		"unknown pull policy":         {[]string{"image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		"digest that is no digest":    {[]string{"image.digest=latest"}, "/image/digest"},
		"misspelt key":                {[]string{"imageTag=v1"}, "additional properties 'imageTag' not allowed"},
		"unknown SMTP security":       {[]string{"smtp.security=ssl"}, "/smtp/security"},
		"SMTP address without port":   {[]string{"smtp.address=smtp.example.org", "smtp.from=a@example.org"}, "/smtp/address"},
		"SMTP address without sender": {[]string{"smtp.address=smtp.example.org:587"}, "/smtp/from"},
		"two leaders":                 {[]string{"replicaCount=2", "leaderElection.enabled=false"}, "/leaderElection/enabled"},
		"duration in words":           {[]string{"retry.maxDelay=5 minutes"}, "/retry/maxDelay"},
		"root":                        {[]string{"podSecurityContext.runAsNonRoot=false"}, "/podSecurityContext/runAsNonRoot"},
		"privilege escalation":        {[]string{"securityContext.allowPrivilegeEscalation=true"}, "/securityContext/allowPrivilegeEscalation"},
		"privileged":                  {[]string{"securityContext.privileged=true"}, "/securityContext/privileged"},
		"writable root filesystem":    {[]string{"securityContext.readOnlyRootFilesystem=false"}, "/securityContext/readOnlyRootFilesystem"},
		"capability added":            {[]string{"securityContext.capabilities.add={NET_ADMIN}"}, "/securityContext/capabilities/add"},
		"namespace with a capital":    {[]string{"watchNamespaces={Council}"}, "/watchNamespaces/0"},
		"audit sink that is no URL":   {[]string{"auditKey.sinkURL=siem.internal"}, "/auditKey/sinkURL"},
		"flag without dashes":         {[]string{"extraArgs={zap-devel}"}, "/extraArgs/0"},
		"log level unknown":           {[]string{"logLevel=verbose"}, "/logLevel"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := renderErr(tc.set...)
			if err == nil {
				t.Fatalf("helm template --set %v succeeded, want the schema to refuse it", tc.set)
			}
			if !strings.Contains(out, "values don't meet the specifications of the schema") || !strings.Contains(out, tc.want) {
				t.Errorf("helm template --set %v failed without naming %s:\n%s", tc.set, tc.want, out)
			}
		})
	}
}

// The values reach the operator as the flags main.go reads.
func TestValuesBecomeOperatorFlags(t *testing.T) {
	objects := byKindAndName(render(t,
		"smtp.address=smtp.example.org:587", "smtp.from=Incidents <incidents@example.org>",
		"smtp.credentialsSecret=smtp-login", "smtp.caConfigMap=smtp-ca",
		"watchNamespaces={council,finance}", "allowedDestinations={https://pagerduty.internal/}",
		"auditKey.sinkURL=https://siem.internal/collect", "image.tag=v9.9.9", "replicaCount=3",
		"allowLinkLocalDestinations=true", "warningEventsOnly=true", "extraArgs={--zap-devel}", "regimes.default={uk-gdpr,nis2}"))
	deployment := objects[key("Deployment", release+"-controller-manager")]
	if deployment == nil {
		t.Fatal("no Deployment")
	}
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	manager := containers[0].(map[string]any)
	args := containerArgs(t, deployment)
	for _, want := range []string{
		"--leader-elect=true",
		"--metrics-bind-address=:8443",
		"--audit-log-key-secret=" + namespace + "/incident-operator-audit-log-key",
		"--smtp-address=smtp.example.org:587",
		"--smtp-from=Incidents <incidents@example.org>",
		"--smtp-security=starttls",
		"--smtp-credentials-secret=" + namespace + "/smtp-login",
		"--smtp-ca-file=/etc/incident-operator/smtp-ca/ca.crt",
		"--watch-namespaces=council,finance",
		"--allowed-destination=https://pagerduty.internal/",
		"--audit-sink-url=https://siem.internal/collect",
		"--operator-namespace=" + namespace,
		"--default-regimes=uk-gdpr,nis2",
		"--zap-devel",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("the operator's args lack %s:\n%s", want, strings.Join(args, "\n"))
		}
	}
	if image := manager["image"]; image != "ghcr.io/incidentops/incident-operator:v9.9.9" {
		t.Errorf("image = %v", image)
	}
	if replicas, _, _ := unstructured.NestedFieldNoCopy(deployment.Object, "spec", "replicas"); normalise(replicas) != 3.0 {
		t.Errorf("replicas = %v, want 3", replicas)
	}
	volumes, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "volumes")
	if !strings.Contains(toStream(t, []*unstructured.Unstructured{{Object: map[string]any{"v": volumes}}}), `"name":"smtp-ca"`) {
		t.Errorf("no volume holds the SMTP CA ConfigMap: %v", volumes)
	}

	// Every flag is one the operator's binary knows.
	known := operatorFlags(t)
	for _, arg := range append(args, "--zap-devel") {
		if name := flagName(arg); !known[name] {
			t.Errorf("the chart passes %s, which the operator does not know", arg)
		}
	}

	// The image tag defaults to the chart's appVersion.
	deployment = byKindAndName(render(t))[key("Deployment", release+"-controller-manager")]
	containers, _, _ = unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	chart := readChartYAML(t)
	if image, want := containers[0].(map[string]any)["image"], "ghcr.io/incidentops/incident-operator:"+chart["appVersion"].(string); image != want {
		t.Errorf("default image = %v, want %s", image, want)
	}
}

// The ServiceMonitor scrapes the metrics Service's HTTPS port, and gives
// the job the name the alerts of config/monitoring select, whatever the
// release's names.
func TestServiceMonitorScrapesTheMetricsService(t *testing.T) {
	for _, names := range [][]string{nil, {"nameOverride=incops"}, {"fullnameOverride=security-incidents"}} {
		t.Run(strings.Join(append([]string{"default"}, names...), ","), func(t *testing.T) {
			var service, monitor *unstructured.Unstructured
			for _, o := range render(t, append([]string{"serviceMonitor.enabled=true"}, names...)...) {
				switch {
				case o.GetKind() == "Service" && o.GetLabels()["app.kubernetes.io/component"] == "metrics":
					service = o
				case o.GetKind() == "ServiceMonitor":
					monitor = o
				}
			}
			if service == nil || monitor == nil {
				t.Fatal("serviceMonitor.enabled=true renders no metrics Service or no ServiceMonitor")
			}
			selector, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
			for label, value := range selector {
				if service.GetLabels()[label] != value {
					t.Errorf("the ServiceMonitor selects %s=%s, the Service is labelled %v", label, value, service.GetLabels())
				}
			}
			ports, _, _ := unstructured.NestedSlice(service.Object, "spec", "ports")
			endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
			if len(ports) != 1 || len(endpoints) != 1 {
				t.Fatalf("ports %v, endpoints %v", ports, endpoints)
			}
			port, endpoint := ports[0].(map[string]any), endpoints[0].(map[string]any)
			if endpoint["port"] != port["name"] || endpoint["scheme"] != "https" || port["targetPort"] != "metrics" {
				t.Errorf("the ServiceMonitor scrapes %v over %v, the Service serves %v on %v", endpoint["port"], endpoint["scheme"], port["name"], port["targetPort"])
			}
			jobLabel, _, _ := unstructured.NestedString(monitor.Object, "spec", "jobLabel")
			if job := service.GetLabels()[jobLabel]; job != "incident-operator" {
				t.Errorf("the job is named %q (the Service's %s), the alerts select job=\"incident-operator\"", job, jobLabel)
			}
		})
	}
	rules, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "monitoring", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rules), `job="incident-operator"`) {
		t.Error(`the alerts no longer select job="incident-operator": change the ServiceMonitor's job with them`)
	}
}

// The chart, with its SMTP values set, passes every flag config/manager's
// Deployment passes: a flag added there must be added to the chart.
func TestChartPassesTheFlagsOfConfigManager(t *testing.T) {
	var want []string
	for _, obj := range readConfig(t, "manager/manager.yaml") {
		if obj.GetKind() == "Deployment" {
			want = containerArgs(t, obj)
		}
	}
	if len(want) == 0 {
		t.Fatal("config/manager/manager.yaml passes no flag")
	}
	got := map[string]bool{}
	smtp := render(t, "smtp.address=smtp.example.org:587", "smtp.from=incidents@example.org", "smtp.credentialsSecret=smtp-login")
	for _, arg := range containerArgs(t, byKindAndName(smtp)[key("Deployment", release+"-controller-manager")]) {
		got[flagName(arg)] = true
	}
	for _, arg := range want {
		if !got[flagName(arg)] {
			t.Errorf("config/manager passes %s, the chart does not pass %s", arg, flagName(arg))
		}
	}
}

func containerArgs(t *testing.T, deployment *unstructured.Unstructured) []string {
	t.Helper()
	var args []string
	for _, a := range managerContainer(t, deployment)["args"].([]any) {
		args = append(args, a.(string))
	}
	return args
}

// flagName is --name of --name=value.
func flagName(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	return name
}

// operatorFlags are the flags the operator's binary defines, as its -help
// lists them.
func operatorFlags(t *testing.T) map[string]bool {
	t.Helper()
	binary, err := testenv.BuildOperator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(binary, "-help").CombinedOutput() // -help exits 0 or 2 as flag packages do
	flags := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		flags["--"+m[1]] = true
	}
	if !flags["--leader-elect"] {
		t.Fatalf("the operator's -help lists no --leader-elect:\n%s", out)
	}
	return flags
}

var helpFlag = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
