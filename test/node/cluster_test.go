package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The node's network: one bridge whose address the API server, the
// kubelet and the tests' notification sink listen on, so that the Pods
// reach them and nothing listens on the machine's own interfaces.
const (
	nodeName      = "incident-node"
	bridgeName    = "incnode0"
	podSubnet     = "10.244.0.0/24"
	hostIP        = "10.244.0.1"
	serviceSubnet = "10.96.0.0/24"
	// apiServiceIP is the kubernetes Service's address, the first of
	// serviceSubnet, which the API server's certificate must name.
	apiServiceIP = "10.96.0.1"
	// sandboxImage is the pause image the tests build and import, since
	// none can be pulled.
	sandboxImage = "localhost/incident-operator-node/pause:v1"
	cniBinDir    = "/usr/lib/cni"
)

// cluster is a one-node Kubernetes made of the real binaries: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, containerd with
// runc and the bridge CNI plugin, the kubelet and kube-proxy, each its own
// process with its own log, all state under dir.
type cluster struct {
	dir    string
	bin    string
	ca     *authority
	server string
	// Admin is a cluster administrator's kubeconfig.
	Admin     string
	Clientset *kubernetes.Clientset
	// containerd's socket, which only this cluster's kubelet and ctr use.
	containerd string
	processes  []*process
	stopping   sync.Once
}

// process is one of the cluster's binaries, running.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs bin with args, its output in logs/name.log.
func (c *cluster) start(name, bin string, args ...string) (*process, error) {
	logs := filepath.Join(c.dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(logs, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// runc, iptables and the CNI plugins are in sbin, which a CI
	// environment's PATH may lack.
	cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/usr/local/sbin:/usr/sbin:/sbin")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logFile.Name(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	c.processes = append(c.processes, p)
	return p, nil
}

// stop sends SIGTERM, and SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail is the end of the process's log.
func (p *process) tail(lines int) string {
	data, _ := os.ReadFile(p.log)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// freePorts are n distinct ports nothing listens on at host now.
func freePorts(host string, n int) ([]string, error) {
	var ports []string
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		defer l.Close()
		_, port, err := net.SplitHostPort(l.Addr().String())
		if err != nil {
			return nil, err
		}
		ports = append(ports, port)
	}
	return ports, nil
}

// run runs a command to completion and returns its output, which on
// failure includes stderr.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/usr/local/sbin:/usr/sbin:/sbin")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// poll calls check every interval until it returns nil or timeout passes,
// and then returns its last error.
func poll(timeout, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}

// startCluster brings the node up, step by step; on error what started is
// left for stopCluster.
func startCluster(c *cluster) error {
	steps := []struct {
		name string
		run  func() error
	}{
		{"bridge", c.startBridge},
		{"control plane", c.startControlPlane},
		{"containerd", c.startContainerd},
		{"kubelet", c.startKubelet},
		{"kube-proxy", c.startKubeProxy},
	}
	for _, step := range steps {
		began := time.Now()
		if err := step.run(); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		fmt.Printf("node: %s up in %s\n", step.name, time.Since(began).Round(100*time.Millisecond))
	}
	return nil
}

// startBridge makes the Pods' bridge with the host's address on it. A
// bridge left by an earlier run that was killed is replaced.
func (c *cluster) startBridge() error {
	_, _ = run("ip", "link", "delete", bridgeName)
	for _, args := range [][]string{
		{"link", "add", "name", bridgeName, "type", "bridge"},
		{"addr", "add", hostIP + "/24", "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if _, err := run("ip", args...); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) startControlPlane() error {
	pki := filepath.Join(c.dir, "pki")
	var err error
	if c.ca, err = newAuthority(pki); err != nil {
		return err
	}
	serverCert, serverKey, err := c.ca.issue("kube-apiserver", "kube-apiserver", nil,
		hostIP, apiServiceIP, "127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
	if err != nil {
		return err
	}
	kubeletClientCert, kubeletClientKey, err := c.ca.issue("kube-apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"})
	if err != nil {
		return err
	}
	saKey, saPub, err := serviceAccountKeys(pki)
	if err != nil {
		return err
	}

	// etcd's client and peer ports, the controller-manager's and the
	// scheduler's, all on loopback.
	local, err := freePorts("127.0.0.1", 4)
	if err != nil {
		return err
	}
	etcdURL, peerURL := "http://127.0.0.1:"+local[0], "http://127.0.0.1:"+local[1]
	if _, err := c.start("etcd", filepath.Join(c.bin, "etcd"),
		"--data-dir="+filepath.Join(c.dir, "etcd"), "--name=node-test",
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=node-test="+peerURL, "--unsafe-no-fsync=true"); err != nil {
		return err
	}

	port, err := freePorts(hostIP, 1)
	if err != nil {
		return err
	}
	c.server = "https://" + net.JoinHostPort(hostIP, port[0])
	auditPolicy := filepath.Join(c.dir, "audit-policy.yaml")
	if err := os.WriteFile(auditPolicy, []byte(operatorRequestsPolicy), 0o600); err != nil {
		return err
	}
	apiserver, err := c.start("kube-apiserver", filepath.Join(c.bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address="+hostIP, "--advertise-address="+hostIP, "--secure-port="+port[0],
		"--tls-cert-file="+serverCert, "--tls-private-key-file="+serverKey,
		"--client-ca-file="+c.ca.CAFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saPub, "--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range="+serviceSubnet,
		// The node's own authoriser and admission, so that the kubelet is
		// held to its node as in a real cluster.
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate="+kubeletClientCert, "--kubelet-client-key="+kubeletClientKey,
		"--kubelet-certificate-authority="+c.ca.CAFile,
		"--kubelet-preferred-address-types=InternalIP",
		"--audit-policy-file="+auditPolicy, "--audit-log-path="+filepath.Join(c.dir, "logs", "operator-requests.log"), "--audit-log-format=json",
		"--profiling=false")
	if err != nil {
		return err
	}
	if c.Admin, err = c.ca.kubeconfig("admin", "admin", []string{"system:masters"}, c.server); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Admin)
	if err != nil {
		return err
	}
	if c.Clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if err := poll(2*time.Minute, 500*time.Millisecond, func() error {
		if apiserver.exited() {
			return errors.New("kube-apiserver exited:\n" + apiserver.tail(20))
		}
		_, err := c.Clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err
	}); err != nil {
		return err
	}

	controllerManager, err := c.ca.kubeconfig("kube-controller-manager", "system:kube-controller-manager", nil, c.server)
	if err != nil {
		return err
	}
	if _, err := c.start("kube-controller-manager", filepath.Join(c.bin, "kube-controller-manager"),
		"--kubeconfig="+controllerManager, "--authentication-kubeconfig="+controllerManager, "--authorization-kubeconfig="+controllerManager,
		"--bind-address=127.0.0.1", "--secure-port="+local[2],
		// Each controller acts as its own ServiceAccount, and Pods get
		// the CA in kube-root-ca.crt for their projected tokens.
		"--use-service-account-credentials=true", "--root-ca-file="+c.ca.CAFile,
		"--service-account-private-key-file="+saKey,
		"--cluster-cidr="+podSubnet, "--service-cluster-ip-range="+serviceSubnet,
		"--leader-elect=false"); err != nil {
		return err
	}
	scheduler, err := c.ca.kubeconfig("kube-scheduler", "system:kube-scheduler", nil, c.server)
	if err != nil {
		return err
	}
	if _, err := c.start("kube-scheduler", filepath.Join(c.bin, "kube-scheduler"),
		"--kubeconfig="+scheduler, "--authentication-kubeconfig="+scheduler, "--authorization-kubeconfig="+scheduler,
		"--bind-address=127.0.0.1", "--secure-port="+local[3], "--leader-elect=false"); err != nil {
		return err
	}
	// The controller-manager publishes the CA every Pod's token volume
	// needs; without it no Pod starts.
	return poll(time.Minute, 500*time.Millisecond, func() error {
		_, err := c.Clientset.CoreV1().ConfigMaps("default").Get(context.Background(), "kube-root-ca.crt", metav1.GetOptions{})
		return err
	})
}

// containerdConfig is containerd's whole configuration: its own root,
// state and sockets, runc with cgroupfs and its state under dir, the CNI configuration of this
// cluster, and the pause image the tests import.
const containerdConfig = `version = 2
root = "{{dir}}/containerd/root"
state = "{{dir}}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{{socket}}"

[ttrpc]
  address = "{{socket}}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{{dir}}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{sandbox}}"
  disable_apparmor = true
  enable_selinux = false
  # Not below containerd's own: a negative score needs CAP_SYS_RESOURCE,
  # which some CI sandboxes withhold even from root.
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{{dir}}/runc"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{{cni_bin}}"
  conf_dir = "{{dir}}/cni/net.d"
`

// cniConfig puts each Pod on the bridge with an address from podSubnet
// and a default route through the host. The bridge already has the
// host's address, so the plugin is not the gateway: it leaves the host's
// IP forwarding alone, which nothing here needs.
const cniConfig = `{
  "cniVersion": "0.4.0",
  "name": "incident-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "{{bridge}}",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "{{subnet}}", "gateway": "{{host}}"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "{{dir}}/cni/ipam"
      }
    }
  ]
}
`

func (c *cluster) render(template string) string {
	return strings.NewReplacer("{{dir}}", c.dir, "{{socket}}", c.containerd, "{{sandbox}}", sandboxImage,
		"{{cni_bin}}", cniBinDir, "{{bridge}}", bridgeName, "{{subnet}}", podSubnet, "{{host}}", hostIP).Replace(template)
}

func (c *cluster) startContainerd() error {
	c.containerd = filepath.Join(c.dir, "containerd.sock")
	netd := filepath.Join(c.dir, "cni", "net.d")
	if err := os.MkdirAll(netd, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(netd, "10-incident-node.conflist"), []byte(c.render(cniConfig)), 0o644); err != nil {
		return err
	}
	config := filepath.Join(c.dir, "containerd.toml")
	if err := os.WriteFile(config, []byte(c.render(containerdConfig)), 0o644); err != nil {
		return err
	}
	containerd, err := c.start("containerd", "containerd", "--config="+config)
	if err != nil {
		return err
	}
	return poll(time.Minute, 200*time.Millisecond, func() error {
		if containerd.exited() {
			return errors.New("containerd exited:\n" + containerd.tail(20))
		}
		_, err := c.ctr("version")
		return err
	})
}

// ctr runs containerd's ctr against this cluster's containerd, in the
// namespace the kubelet's Pods live in.
func (c *cluster) ctr(args ...string) (string, error) {
	return run("ctr", append([]string{"--address", c.containerd, "--namespace", "k8s.io"}, args...)...)
}

// importImage loads an image archive into containerd for the kubelet.
func (c *cluster) importImage(archive string) error {
	_, err := c.ctr("images", "import", archive)
	return err
}

// kubeletConfig serves the kubelet's API on the host's bridge address with
// a certificate from the cluster's CA, to the API server only; uses cgroupfs
// (cgroup v1 is allowed: many CI machines still have it) and keeps its pod
// logs and volume plugins under dir.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {{host}}
port: {{port}}
readOnlyPort: 0
healthzPort: 0
tlsCertFile: {{cert}}
tlsPrivateKeyFile: {{key}}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: {{ca}}}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://{{socket}}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
podLogsDir: {{dir}}/pod-logs
volumePluginDir: {{dir}}/kubelet-plugins
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
shutdownGracePeriod: 0s
`

func (c *cluster) startKubelet() error {
	// The kubelet acts as its node, so the Node authoriser and
	// NodeRestriction hold it to its own node and Pods.
	kubeconfig, err := c.ca.kubeconfig("kubelet", "system:node:"+nodeName, []string{"system:nodes"}, c.server)
	if err != nil {
		return err
	}
	cert, key, err := c.ca.issue("kubelet-serving", "system:node:"+nodeName, []string{"system:nodes"}, hostIP, nodeName)
	if err != nil {
		return err
	}
	port, err := freePorts(hostIP, 1)
	if err != nil {
		return err
	}
	config := filepath.Join(c.dir, "kubelet.yaml")
	text := strings.NewReplacer("{{port}}", port[0], "{{cert}}", cert, "{{key}}", key, "{{ca}}", c.ca.CAFile).Replace(c.render(kubeletConfig))
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		return err
	}
	kubelet, err := c.start("kubelet", filepath.Join(c.bin, "kubelet"),
		"--config="+config, "--kubeconfig="+kubeconfig, "--root-dir="+filepath.Join(c.dir, "kubelet"),
		"--hostname-override="+nodeName, "--node-ip="+hostIP, "--v=1")
	if err != nil {
		return err
	}
	return poll(3*time.Minute, time.Second, func() error {
		if kubelet.exited() {
			return errors.New("kubelet exited:\n" + kubelet.tail(30))
		}
		node, err := c.Clientset.CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node %s is not Ready: %s", nodeName, cond.Message)
			}
		}
		return fmt.Errorf("node %s has no Ready condition yet", nodeName)
	})
}

// kubeProxyConfig makes Services work in iptables mode for the Pods and
// the host, without changing the host's conntrack settings or opening
// NodePorts on the host's own interfaces.
const kubeProxyConfig = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: {{kubeconfig}}}
hostnameOverride: {{node}}
mode: iptables
clusterCIDR: {{subnet}}
healthzBindAddress: 127.0.0.1:{{healthz}}
metricsBindAddress: 127.0.0.1:{{metrics}}
nodePortAddresses: ["{{host}}/32"]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
`

func (c *cluster) startKubeProxy() error {
	kubeconfig, err := c.ca.kubeconfig("kube-proxy", "system:kube-proxy", nil, c.server)
	if err != nil {
		return err
	}
	ports, err := freePorts("127.0.0.1", 2)
	if err != nil {
		return err
	}
	config := filepath.Join(c.dir, "kube-proxy.yaml")
	text := strings.NewReplacer("{{kubeconfig}}", kubeconfig, "{{node}}", nodeName, "{{healthz}}", ports[0], "{{metrics}}", ports[1]).Replace(c.render(kubeProxyConfig))
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		return err
	}
	proxy, err := c.start("kube-proxy", filepath.Join(c.bin, "kube-proxy"), "--config="+config)
	if err != nil {
		return err
	}
	// The kubernetes Service answers through the rules kube-proxy wrote.
	return poll(time.Minute, 500*time.Millisecond, func() error {
		if proxy.exited() {
			return errors.New("kube-proxy exited:\n" + proxy.tail(20))
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(apiServiceIP, "443"), time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// stopCluster ends the Pods' containers, then every process in reverse
// order, and undoes what they did to the host: kube-proxy's rules, the
// mounts under dir, the kubelet's cgroups and the bridge.
func stopCluster(c *cluster) {
	c.stopping.Do(func() { c.stop() })
}

func (c *cluster) stop() {
	byName := map[string]*process{}
	for _, p := range c.processes {
		byName[p.name] = p
	}
	if kubelet := byName["kubelet"]; kubelet != nil {
		kubelet.stop(10 * time.Second)
	}
	if containerd := byName["containerd"]; containerd != nil && !containerd.exited() {
		c.removeContainers()
	}
	for _, p := range slices.Backward(c.processes) {
		p.stop(10 * time.Second)
	}
	c.killShims()
	if byName["kube-proxy"] != nil {
		_, _ = run(filepath.Join(c.bin, "kube-proxy"), "--cleanup")
	}
	if byName["kubelet"] != nil {
		removeKubeletChains()
	}
	unmountUnder(c.dir)
	removeCgroups("kubepods")
	_, _ = run("ip", "link", "delete", bridgeName)
}

// removeKubeletChains removes the iptables chains the kubelet makes (its
// canaries and the firewall against routed localhost traffic), which
// kube-proxy's cleanup leaves.
func removeKubeletChains() {
	for _, iptables := range []string{"iptables", "ip6tables"} {
		for _, hook := range []string{"INPUT", "OUTPUT"} {
			_, _ = run(iptables, "-t", "filter", "-D", hook, "-j", "KUBE-FIREWALL")
		}
		for _, table := range []string{"filter", "nat", "mangle"} {
			for _, chain := range []string{"KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"} {
				if _, err := run(iptables, "-t", table, "-F", chain); err == nil {
					_, _ = run(iptables, "-t", table, "-X", chain)
				}
			}
		}
	}
}

// removeContainers kills and deletes every task and container containerd
// still has, once the kubelet is gone.
func (c *cluster) removeContainers() {
	tasks, _ := c.ctr("tasks", "list", "--quiet")
	for _, id := range strings.Fields(tasks) {
		_, _ = c.ctr("tasks", "kill", "--signal", "SIGKILL", id)
	}
	for _, id := range strings.Fields(tasks) {
		_ = poll(5*time.Second, 200*time.Millisecond, func() error {
			_, err := c.ctr("tasks", "delete", id)
			return err
		})
	}
	containers, _ := c.ctr("containers", "list", "--quiet")
	var netns []string
	for _, id := range strings.Fields(containers) {
		netns = append(netns, c.networkNamespace(id)...)
		_, _ = c.ctr("containers", "delete", id)
	}
	// containerd makes each sandbox's network namespace in /var/run/netns
	// and removes it only with the sandbox, which the kubelet did not.
	for _, path := range netns {
		_ = syscall.Unmount(path, syscall.MNT_DETACH)
		_ = os.Remove(path)
	}
}

// networkNamespace is the network namespace a container joins by path,
// as its runtime spec names it.
func (c *cluster) networkNamespace(id string) []string {
	out, err := c.ctr("containers", "info", "--spec", id)
	if err != nil {
		return nil
	}
	var spec struct {
		Linux struct {
			Namespaces []struct{ Type, Path string }
		}
	}
	if json.Unmarshal([]byte(out), &spec) != nil {
		return nil
	}
	var paths []string
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == "network" && strings.HasPrefix(ns.Path, "/var/run/netns/") {
			paths = append(paths, ns.Path)
		}
	}
	return paths
}

// killShims kills the runc shims this cluster's containerd started, which
// outlive it by design; they name its socket on their command line.
func (c *cluster) killShims() {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if strings.HasSuffix(args[0], "containerd-shim-runc-v2") && slices.Contains(args, c.containerd) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// unmountUnder unmounts everything mounted below dir, deepest first:
// the Pods' volumes, rootfs overlays and the kubelet's own mounts.
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mounts []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	for _, m := range slices.Backward(mounts) {
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
}

// removeCgroups removes the empty cgroups named name at the top of each
// cgroup v1 hierarchy (or of the v2 one), children first.
func removeCgroups(name string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	roots = append(roots, "/sys/fs/cgroup/"+name)
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for _, d := range slices.Backward(dirs) {
			_ = os.Remove(d)
		}
	}
}
