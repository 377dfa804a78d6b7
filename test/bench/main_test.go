// Package bench is the benchmark harness: it measures what the operator
// costs and how fast the right people hear of an incident, against the
// floor that any operator would cost on the same API server in the same
// run. `make bench` runs the full harness; `go test -short` runs a small
// version, in `make test`, so that the harness cannot rot.
package bench_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

var (
	restConfig *rest.Config
	k8sClient  client.Client
	clientset  *kubernetes.Clientset
	kubeconfig string
	// operatorKubeconfig acts as the operator's ServiceAccount.
	operatorKubeconfig string
	manager            string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "incident-operator-bench")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	env, err := testenv.New(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if restConfig, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := testenv.InstallAdmissionPolicies(context.Background(), restConfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The same client settings as the operator's: controller-runtime leaves
	// client-side rate limiting to the API server's priority and fairness.
	restConfig.QPS, restConfig.Burst = -1, 0
	if k8sClient, err = client.New(restConfig, client.Options{Scheme: testenv.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if clientset, err = kubernetes.NewForConfig(restConfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteAdminKubeconfig(env, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operatorKubeconfig = filepath.Join(dir, "operator-kubeconfig")
	if err := testenv.WriteOperatorKubeconfig(context.Background(), restConfig, operatorKubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if manager, err = testenv.BuildOperator(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := testenv.CheckOperatorNeverForbidden(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// freeAddr is a loopback address nobody listens on yet.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// newSink serves the notification sink on loopback; it timestamps each
// delivery as it arrives.
func newSink(t testing.TB) (*sink.Sink, string) {
	s := &sink.Sink{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// floorKey signs the trails the floor writes without an operator.
var floorKey = audit.Key{ID: "floor", Secret: make([]byte, audit.MinKeySize)}
