// Package testenv starts the real control plane (etcd and kube-apiserver,
// built into bin/k8s by `make envtest`) for the project's integration and
// end-to-end tests.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// KubeVersion is the version of the control plane the tests run against.
const KubeVersion = "1.37.0"

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BinaryDir is where the control-plane binaries are: KUBEBUILDER_ASSETS, or
// bin/k8s/<version> in the repository. It is an error, not a skip, when they
// are missing: a test that did not run must not pass.
func BinaryDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "bin", "k8s", KubeVersion)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("control-plane binary %s not found in %s: run `make envtest` to build it", name, dir)
		}
	}
	return dir, nil
}

// New returns an environment with the project's CRDs, ready to Start. With
// withCRDs false the CRDs are left for the test to install, as a user would.
// Its API server logs every answer it gives the operator's ServiceAccount
// (CheckOperatorNeverForbidden).
func New(withCRDs bool) (*envtest.Environment, error) {
	dir, err := BinaryDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	logs, err := os.MkdirTemp("", "incident-operator-apiserver-")
	if err != nil {
		return nil, err
	}
	if err := logOperatorRequests(env, logs); err != nil {
		return nil, err
	}
	if withCRDs {
		env.CRDDirectoryPaths = []string{filepath.Join(RepoRoot(), "config", "crd", "bases")}
		env.ErrorIfCRDPathMissing = true
	}
	return env, nil
}

// Scheme knows the built-in kinds and the project's.
func Scheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(securityv1alpha1.AddToScheme(scheme))
	return scheme
}
