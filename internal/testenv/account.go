package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// operatorServiceAccountName is the operator's ServiceAccount as
// config/default names it.
const operatorServiceAccountName = "incident-operator-controller-manager"

// OperatorAccount is the operator's identity as a test runs it: the
// ServiceAccount, Roles and bindings that config/default installs, and a
// token for that ServiceAccount.
type OperatorAccount struct {
	// Config acts as the ServiceAccount, with no other credential.
	Config *rest.Config
	// Objects are what was installed, as config/default renders them.
	Objects []*unstructured.Unstructured
}

// InstallOperatorAccount creates the operator's namespace, its
// ServiceAccount and every Role, ClusterRole and binding of config/default
// that grants it something, exactly as `make deploy` renders them, and
// returns a configuration that authenticates with a token issued to that
// ServiceAccount by the API server (TokenRequest). cfg must be allowed to
// create all of it (an administrator's).
func InstallOperatorAccount(ctx context.Context, cfg *rest.Config) (*OperatorAccount, error) {
	objects, err := OperatorRBAC()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s: %w", OperatorNamespace, err)
	}
	for _, obj := range objects {
		if err := c.Create(ctx, obj.DeepCopy()); err != nil {
			return nil, fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	token, err := clientset.CoreV1().ServiceAccounts(OperatorNamespace).CreateToken(ctx, operatorServiceAccountName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](12 * 3600)}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting a token for the operator's ServiceAccount: %w", err)
	}
	account := rest.AnonymousClientConfig(cfg)
	account.BearerToken = token.Status.Token
	return &OperatorAccount{Config: account, Objects: objects}, nil
}

// WriteKubeconfig writes a kubeconfig that acts as the account, for the
// operator's binary.
func (a *OperatorAccount) WriteKubeconfig(path string) error {
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["test"] = &clientcmdapi.Cluster{Server: a.Config.Host, CertificateAuthorityData: a.Config.CAData}
	kubeconfig.AuthInfos["operator"] = &clientcmdapi.AuthInfo{Token: a.Config.BearerToken}
	kubeconfig.Contexts["operator"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "operator", Namespace: OperatorNamespace}
	kubeconfig.CurrentContext = "operator"
	data, err := clientcmd.Write(*kubeconfig)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// OperatorRBAC renders config/default as `make deploy` does and returns its
// ServiceAccount and every Role, ClusterRole and binding that grants the
// operator's ServiceAccount something: nothing is added for the tests.
func OperatorRBAC() ([]*unstructured.Unstructured, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(RepoRoot(), "config", "default"))
	if err != nil {
		return nil, fmt.Errorf("rendering config/default: %w", err)
	}
	var rendered []*unstructured.Unstructured
	for _, res := range resources.Resources() {
		m, err := res.Map()
		if err != nil {
			return nil, err
		}
		rendered = append(rendered, &unstructured.Unstructured{Object: m})
	}
	bindsOperator := func(obj *unstructured.Unstructured) bool {
		subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
		return slices.ContainsFunc(subjects, func(s any) bool {
			subject, _ := s.(map[string]any)
			return subject["kind"] == "ServiceAccount" && subject["name"] == operatorServiceAccountName && subject["namespace"] == OperatorNamespace
		})
	}
	granted := map[string]bool{}
	var objects []*unstructured.Unstructured
	for _, obj := range rendered {
		switch obj.GetKind() {
		case "ServiceAccount":
			if obj.GetName() == operatorServiceAccountName {
				objects = append(objects, obj)
			}
		case "RoleBinding", "ClusterRoleBinding":
			if bindsOperator(obj) {
				objects = append(objects, obj)
				kind, _, _ := unstructured.NestedString(obj.Object, "roleRef", "kind")
				name, _, _ := unstructured.NestedString(obj.Object, "roleRef", "name")
				namespace := obj.GetNamespace()
				if kind == "ClusterRole" {
					namespace = ""
				}
				granted[kind+"/"+namespace+"/"+name] = true
			}
		}
	}
	for _, obj := range rendered {
		if (obj.GetKind() == "Role" || obj.GetKind() == "ClusterRole") && granted[obj.GetKind()+"/"+obj.GetNamespace()+"/"+obj.GetName()] {
			objects = append(objects, obj)
		}
	}
	if len(objects) < 3 {
		return nil, fmt.Errorf("config/default grants the operator's ServiceAccount %s/%s nothing", OperatorNamespace, operatorServiceAccountName)
	}
	return objects, nil
}

// WriteOperatorKubeconfig installs the operator's account
// (InstallOperatorAccount) and writes a kubeconfig that acts as it to path,
// for the operator's binary.
func WriteOperatorKubeconfig(ctx context.Context, cfg *rest.Config, path string) error {
	account, err := InstallOperatorAccount(ctx, cfg)
	if err != nil {
		return err
	}
	return account.WriteKubeconfig(path)
}
