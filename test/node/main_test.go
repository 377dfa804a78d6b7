// Package node runs the operator as it is deployed: a one-node cluster of
// the real binaries (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd and runc, the kubelet and kube-proxy), the
// image `make image` builds, imported without a registry, and the Helm
// chart with its two replicas. The tests check the Pods' probes, leader
// election and failover, the metrics Service, a helm upgrade, the
// PodDisruptionBudget and NetworkPolicy, and an incident from report to
// deletion, all through kubectl, helm and the kubectl incident plugin.
// It needs root (`make test-node`).
package node

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

const (
	// release gives the names the README's install gives.
	release           = "incident-operator"
	operatorNamespace = "incident-operator"
	// userNamespace is where the tests' people report and handle incidents.
	userNamespace = "council"
	// leaseName is the operator's leader-election Lease.
	leaseName = "incident-operator.security.incidentops.io"
	// operatorAccount is the chart's ServiceAccount for the operator.
	operatorAccount = "system:serviceaccount:" + operatorNamespace + ":" + release + "-controller-manager"
)

var (
	node *cluster
	// helmHome keeps helm's cache, config and data out of the user's home.
	helmHome string
	// pluginDir holds the kubectl-incident binary.
	pluginDir string
	// notifications receives the operator's webhooks on the bridge, where
	// the Pods reach it.
	notifications = &sink.Sink{}
	sinkURL       string
	// kubeconfigs of the people, by user name: rob reports (incident-reporter),
	// rita responds (incident-responder), nadia administers the namespace
	// (admin), which does not let her delete incidents.
	people = map[string]string{}
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	began := time.Now()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "test/node runs containerd, the kubelet and kube-proxy, which need root")
		return 1
	}
	bin, err := testenv.BinaryDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := checkPrerequisites(bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "incident-node-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	node = &cluster{dir: dir, bin: bin}
	// Interrupted, the node still goes: its processes, mounts and rules
	// would outlive the test otherwise.
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-interrupted
		fmt.Fprintln(os.Stderr, "node: interrupted, stopping the cluster")
		stopCluster(node)
		os.Exit(1)
	}()
	code := 1
	defer func() {
		stopCluster(node)
		if code != 0 || os.Getenv("KEEP_NODE_LOGS") != "" {
			fmt.Fprintf(os.Stderr, "node: logs kept in %s\n", filepath.Join(dir, "logs"))
			removeAllBut(dir, "logs")
			return
		}
		_ = os.RemoveAll(dir)
	}()
	if err := setUp(dir); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		printLogs()
		return 1
	}
	fmt.Printf("node: cluster up and the chart installed in %s\n", time.Since(began).Round(time.Second))
	code = m.Run()
	if err := checkOperatorNeverForbidden(filepath.Join(dir, "logs", "operator-requests.log")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code != 0 {
		printLogs()
		fmt.Fprintln(os.Stderr, "operator logs:")
		out, _ := kubectl("", "-n", operatorNamespace, "logs", "--prefix", "--tail=60", "-l", "app.kubernetes.io/component=manager")
		fmt.Fprintln(os.Stderr, out)
	}
	return code
}

// checkPrerequisites names everything missing at once, with what makes it.
func checkPrerequisites(bin string) error {
	var missing []string
	for _, name := range []string{"kubelet", "kube-proxy", "kube-controller-manager", "kube-scheduler"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			missing = append(missing, fmt.Sprintf("%s in %s (make node)", name, bin))
		}
	}
	for _, name := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip"} {
		if _, err := exec.LookPath(name); err != nil {
			if _, err := os.Stat(filepath.Join("/usr/sbin", name)); err != nil {
				missing = append(missing, name+" (hack/node/install-packages.sh)")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(cniBinDir, "bridge")); err != nil {
		missing = append(missing, cniBinDir+"/bridge (hack/node/install-packages.sh)")
	}
	if _, err := exec.LookPath(helmBinary()); err != nil {
		missing = append(missing, helmBinary()+" (make helm)")
	}
	if _, err := exec.LookPath(kubectlBinary()); err != nil {
		missing = append(missing, kubectlBinary()+" (KUBECTL)")
	}
	if _, err := os.Stat(imageArchive()); err != nil {
		missing = append(missing, imageArchive()+" (make image)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("test/node needs:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

// setUp starts the cluster, loads the images, starts the notification
// sink and installs the chart as the README does.
func setUp(dir string) error {
	if err := startCluster(node); err != nil {
		return err
	}
	pause, err := buildSandboxImage(dir)
	if err != nil {
		return err
	}
	for _, archive := range []string{pause, imageArchive()} {
		if err := node.importImage(archive); err != nil {
			return err
		}
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0"))
	if err != nil {
		return err
	}
	server := &http.Server{Handler: notifications, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = server.Serve(listener) }()
	sinkURL = "http://" + listener.Addr().String() + "/node"

	pluginDir = filepath.Join(dir, "plugin")
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "kubectl-incident"), "./cmd/kubectl-incident")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building kubectl-incident: %v\n%s", err, out)
	}
	helmHome = filepath.Join(dir, "helm")
	for _, name := range []string{"rob", "rita", "nadia"} {
		if people[name], err = node.ca.kubeconfig(name, name, nil, node.server); err != nil {
			return err
		}
	}

	began := time.Now()
	if err := installChart(); err != nil {
		return err
	}
	if err := waitForRollout(3 * time.Minute); err != nil {
		return err
	}
	fmt.Printf("node: chart installed, both replicas Ready in %s\n", time.Since(began).Round(100*time.Millisecond))
	return setUpPeople()
}

// installChart installs the release into a namespace that enforces Pod
// Security restricted, with the image make image built and a scraper
// allowed to read the metrics.
func installChart() error {
	repository, tag := splitImage(imageRef())
	for _, args := range [][]string{
		{"create", "namespace", operatorNamespace},
		{"label", "namespace", operatorNamespace, "pod-security.kubernetes.io/enforce=restricted"},
		{"create", "namespace", "monitoring"},
		{"-n", "monitoring", "create", "serviceaccount", "scraper"},
		{"-n", "monitoring", "create", "serviceaccount", "stranger"},
	} {
		if out, err := kubectl("", args...); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
	}
	out, err := helm("install", release, chartDir(), "--namespace", operatorNamespace,
		"--set", "image.repository="+repository, "--set", "image.tag="+tag, "--set", "image.pullPolicy=Never",
		"--set", "metrics.readers[0].name=scraper", "--set", "metrics.readers[0].namespace=monitoring")
	if err != nil {
		return fmt.Errorf("helm install: %w\n%s", err, out)
	}
	return nil
}

// setUpPeople makes the namespace where incidents are reported, binds the
// shipped roles to the people, and routes every phishing incident to the
// sink through a webhook whose URL is in a labelled Secret.
func setUpPeople() error {
	steps := [][]string{
		{"create", "namespace", userNamespace},
		// The chart names the roles of config/rbac/user_roles.yaml after
		// the release, as config/default's prefix does.
		{"-n", userNamespace, "create", "rolebinding", "rob-reports", "--clusterrole=" + release + "-incident-reporter", "--user=rob"},
		{"-n", userNamespace, "create", "rolebinding", "rita-responds", "--clusterrole=" + release + "-incident-responder", "--user=rita"},
		{"-n", userNamespace, "create", "rolebinding", "nadia-administers", "--clusterrole=admin", "--user=nadia"},
		{"-n", userNamespace, "create", "secret", "generic", "sink", "--from-literal=url=" + sinkURL},
		{"-n", userNamespace, "label", "secret", "sink", "security.incidentops.io/notification-secret=true"},
	}
	for _, args := range steps {
		if out, err := kubectl("", args...); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
	}
	policy := `apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: phishing-to-sink}
spec:
  match: {categories: [Phishing]}
  receivers:
    - name: sink
      webhook: {urlSecretRef: {name: sink, key: url}}
  escalation:
    levels:
      - notify: [{receiver: sink}]
`
	if out, err := kubectl(policy, "-n", userNamespace, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return poll(time.Minute, 500*time.Millisecond, func() error {
		out, err := kubectl("", "-n", userNamespace, "get", "escalationpolicy", "phishing-to-sink", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "True" {
			return fmt.Errorf("policy phishing-to-sink is not Ready: %q", out)
		}
		return nil
	})
}

// helmBinary is $HELM, or bin/helm as `make helm` builds it.
func helmBinary() string {
	if bin := os.Getenv("HELM"); bin != "" {
		return bin
	}
	return filepath.Join(testenv.RepoRoot(), "bin", "helm")
}

func kubectlBinary() string {
	if bin := os.Getenv("KUBECTL"); bin != "" {
		return bin
	}
	return "kubectl"
}

func chartDir() string { return filepath.Join(testenv.RepoRoot(), "charts", "incident-operator") }

// imageArchive is what `make image` writes ($IMAGE_ARCHIVE).
func imageArchive() string {
	if archive := os.Getenv("IMAGE_ARCHIVE"); archive != "" {
		return archive
	}
	return filepath.Join(testenv.RepoRoot(), "bin", "incident-operator-image.tar")
}

// imageRef is the name `make image` gave the image ($IMG).
func imageRef() string {
	if img := os.Getenv("IMG"); img != "" {
		return img
	}
	return "ghcr.io/incidentops/incident-operator:v0.1.0"
}

// splitImage splits repository:tag at the tag's colon, not a port's.
func splitImage(ref string) (repository, tag string) {
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon < slash {
		return ref, "latest"
	}
	return ref[:colon], ref[colon+1:]
}

// helm runs helm as the cluster's administrator.
func helm(args ...string) (string, error) {
	cmd := exec.Command(helmBinary(), append([]string{"--kubeconfig", node.Admin}, args...)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"))
	return runCommand(cmd, "")
}

// kubectl runs kubectl as the cluster's administrator.
func kubectl(stdin string, args ...string) (string, error) {
	return kubectlAs(node.Admin, stdin, args...)
}

// kubectlAs runs kubectl with a kubeconfig; the plugin's directory is on
// its PATH, so `kubectl incident` runs the plugin, which reads KUBECONFIG.
func kubectlAs(kubeconfig, stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubectlBinary(), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return runCommand(cmd, stdin)
}

// runCommand returns stdout and stderr together, so that callers see the
// API server's warnings.
func runCommand(cmd *exec.Cmd, stdin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	command := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	command.Env = cmd.Env
	command.Stdin = strings.NewReader(stdin)
	out, err := command.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", filepath.Base(cmd.Path), strings.Join(cmd.Args[1:], " "), err)
	}
	return string(out), nil
}

func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectl(stdin, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// printLogs prints the end of each process's log, for a failure.
func printLogs() {
	if node == nil {
		return
	}
	for _, p := range node.processes {
		fmt.Fprintf(os.Stderr, "---- %s (%s)\n%s\n", p.name, p.log, p.tail(15))
	}
}

// removeAllBut removes everything in dir except keep.
func removeAllBut(dir, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != keep {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
