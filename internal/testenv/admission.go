package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// AdmissionDir holds the admission policies the project ships.
func AdmissionDir() string { return filepath.Join(RepoRoot(), "config", "admission") }

// InstallAdmissionPolicies creates every object of config/admission, as
// `make install` does, and waits until the API server enforces them. The
// CRDs must be installed first.
func InstallAdmissionPolicies(ctx context.Context, cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return err
	}
	objects, err := admissionObjects()
	if err != nil {
		return err
	}
	for _, obj := range objects {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return WaitForAdmissionPolicies(ctx, cfg)
}

// InstallUserRoles creates the ClusterRoles for the people who use
// incidents (config/rbac/user_roles.yaml), as `make deploy` does.
func InstallUserRoles(ctx context.Context, cfg *rest.Config) error {
	return createFromFile(ctx, cfg, filepath.Join(RepoRoot(), "config", "rbac", "user_roles.yaml"))
}

// createFromFile creates every object of a YAML file of the repository.
func createFromFile(ctx context.Context, cfg *rest.Config, file string) error {
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return err
	}
	objects, err := readObjects(file)
	if err != nil {
		return err
	}
	for _, obj := range objects {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

func admissionObjects() ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(AdmissionDir(), "*.yaml"))
	if err != nil {
		return nil, err
	}
	var kept []string
	for _, file := range files {
		if filepath.Base(file) != "kustomization.yaml" {
			kept = append(kept, file)
		}
	}
	objects, err := readObjects(kept...)
	if err != nil {
		return nil, err
	}
	if len(objects) == 0 {
		return nil, fmt.Errorf("no admission policies in %s", AdmissionDir())
	}
	return objects, nil
}

// readObjects decodes every object of the YAML files.
func readObjects(files ...string) ([]*unstructured.Unstructured, error) {
	var objects []*unstructured.Unstructured
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := decoder.Decode(&obj.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if len(obj.Object) > 0 {
				objects = append(objects, obj)
			}
		}
	}
	return objects, nil
}

// WaitForAdmissionPolicies waits until the API server refuses, in a dry
// run, an incident that the admission policies refuse: a policy takes
// effect a moment after it is created.
func WaitForAdmissionPolicies(ctx context.Context, cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return err
	}
	probe := &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", GenerateName: "admission-probe-"},
		Spec: securityv1alpha1.IncidentSpec{
			Title: "admission probe", Category: securityv1alpha1.CategoryOther, Severity: securityv1alpha1.SeverityLow,
			Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "probe"}},
			AwareAt:  &metav1.Time{Time: time.Now().Add(24 * time.Hour)},
		},
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last = c.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if last == nil || !strings.Contains(last.Error(), "ValidatingAdmissionPolicy") {
			return false, nil
		}
		// The mutating policy stamps the reporter's account, which the
		// validating one requires: until both act, creates fail closed.
		fine := probe.DeepCopy()
		fine.Spec.AwareAt = nil
		if last = c.Create(ctx, fine, client.DryRunAll); last != nil {
			return false, nil
		}
		if fine.Spec.ReportedBy == nil || fine.Spec.ReportedBy.Username == "" {
			last = fmt.Errorf("spec.reportedBy not written")
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("admission policies not enforced after 30s (last answer: %v)", last)
	}
	return nil
}

// The operator's account as config/default installs it: the ServiceAccount
// controller-manager, prefixed, in the operator's namespace.
const (
	OperatorNamespace      = "incident-operator-system"
	OperatorServiceAccount = "system:serviceaccount:" + OperatorNamespace + ":incident-operator-controller-manager"
	// OperatorClusterRole is config/rbac/role.yaml's ClusterRole, by the
	// name it has in that file.
	OperatorClusterRole = "manager-role"
)

// InstallOperatorRole creates the operator's ClusterRole of
// config/rbac/role.yaml, generated from the controllers' markers, for a
// test to bind to the account it acts as.
func InstallOperatorRole(ctx context.Context, cfg *rest.Config) error {
	return createFromFile(ctx, cfg, filepath.Join(RepoRoot(), "config", "rbac", "role.yaml"))
}
