// Package validation_test sweeps malformed values through the real API
// server and the operator binary. The values are derived from the CRD
// schemas the project generates, and written by hand where a schema lets a
// wrong value through (handwritten_test.go): every one must be refused at
// the door with an error naming its field, or, where the schema cannot
// express the check, reported by the operator in a condition naming its
// field. None may be accepted silently, and none may stop the operator.
package validation_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/incidentops/incident-operator/internal/testenv"
)

var (
	testConfig *rest.Config
	k8sClient  client.Client
	operator   *testenv.Operator
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := testenv.New(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting control plane:", err)
		return 1
	}
	testConfig = cfg
	defer func() { _ = env.Stop() }()
	if err := testenv.InstallAdmissionPolicies(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The CRDs themselves are changed by the test that stores objects the
	// schema would refuse today.
	scheme := testenv.Scheme()
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	dir, err := os.MkdirTemp("", "incident-operator-validation")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteAdminKubeconfig(env, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operatorKubeconfig := filepath.Join(dir, "operator-kubeconfig")
	if err := testenv.WriteOperatorKubeconfig(context.Background(), cfg, operatorKubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	manager, err := testenv.BuildOperator(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// An SMTP server that refuses connections is enough: e-mail receivers
	// and roles are then configured, so policies using them can be Ready.
	operator = &testenv.Operator{Binary: manager, Kubeconfig: operatorKubeconfig, Args: []string{
		"--smtp-address=127.0.0.1:1", "--smtp-from=x@example.org", "--smtp-security=none",
	}}
	if err := operator.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the operator:", err)
		return 1
	}
	code := m.Run()
	_ = operator.Stop()
	if err := testenv.CheckOperatorNeverForbidden(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "operator log (last 200 lines):")
		fmt.Fprintln(os.Stderr, tail(operator.Log(), 200))
	}
	return code
}

// panicked matches what a panic leaves in the operator's log: the runtime's
// own report, or controller-runtime's when it recovers one in a reconcile.
var panicked = regexp.MustCompile(`(?m)^panic: |Observed a panic`)

// operatorHealth says whether the operator process still runs and how many
// panics its log shows.
func operatorHealth() (running bool, panics int) {
	return operator.Running(), len(panicked.FindAllString(operator.Log(), -1))
}

// checkOperator fails the test when the operator has exited or panicked.
func checkOperator(t *testing.T) {
	t.Helper()
	running, panics := operatorHealth()
	if !running {
		t.Errorf("the operator exited; its log ends:\n%s", tail(operator.Log(), 60))
	}
	if panics > 0 {
		t.Errorf("the operator panicked %d times; its log ends:\n%s", panics, tail(operator.Log(), 60))
	}
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
