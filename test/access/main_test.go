// Package access_test tries every write path of every kind as each shipped
// role, on the real API server with the admission policies of
// config/admission and the roles of config/rbac: who may create, change,
// patch, apply, delete and finalize what, and what the record then says.
// A kind or a field of the record that the table does not list fails it.
package access_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/incidentops/incident-operator/internal/testenv"
)

var (
	adminConfig *rest.Config
	admin       client.Client
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
	defer func() { _ = env.Stop() }()
	adminConfig = cfg
	ctx := context.Background()
	if err := testenv.InstallAdmissionPolicies(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := testenv.InstallUserRoles(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := testenv.InstallOperatorRole(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if admin, err = client.New(cfg, client.Options{Scheme: testenv.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// role is one kind of person (or the operator) as the project ships them.
type role struct {
	name string
	// clusterRoles are bound in the test's namespace with a RoleBinding,
	// or, with cluster, with a ClusterRoleBinding.
	clusterRoles []string
	cluster      bool
	// user and groups to impersonate; user defaults to the role's name.
	user   string
	groups []string
}

// namespaceRoles is what Kubernetes' built-in admin role aggregates of the
// project's roles (config/rbac/user_roles.yaml): the API server alone does
// not aggregate, so the test binds the same roles.
var namespaceRoles = []string{"incident-viewer", "incident-reporter", "incident-responder", "incident-policy-admin", "incident-report-reviewer", "incident-filing-approver"}

var (
	reporter     = role{name: "reporter", clusterRoles: []string{"incident-reporter"}}
	responder    = role{name: "responder", clusterRoles: []string{"incident-responder"}}
	policyAdmin  = role{name: "policy-admin", clusterRoles: []string{"incident-policy-admin"}}
	importer     = role{name: "importer", clusterRoles: []string{"incident-importer"}}
	reviewer     = role{name: "reviewer", clusterRoles: []string{"incident-report-reviewer"}}
	namespaceAdm = role{name: "namespace-admin", clusterRoles: namespaceRoles}
	operatorRole = role{name: "operator", clusterRoles: []string{testenv.OperatorClusterRole}, cluster: true,
		user: testenv.OperatorServiceAccount, groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + testenv.OperatorNamespace}}
	clusterAdmin = role{name: "cluster-admin", user: "root", groups: []string{"system:masters"}}
)

// roles are every role of the table, in the order its rows print.
var roles = []role{reporter, responder, policyAdmin, importer, reviewer, namespaceAdm, operatorRole, clusterAdmin}

// as is a client acting as r in ns, with r's roles bound there.
func as(t *testing.T, ns string, r role) client.Client {
	t.Helper()
	user := r.user
	if user == "" {
		user = r.name
	}
	for _, cr := range r.clusterRoles {
		subject := rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr}
		var binding client.Object
		if r.cluster {
			binding = &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.name + "-" + cr}, RoleRef: ref, Subjects: []rbacv1.Subject{subject}}
		} else {
			binding = &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: r.name + "-" + cr}, RoleRef: ref, Subjects: []rbacv1.Subject{subject}}
		}
		if err := admin.Create(context.Background(), binding); client.IgnoreAlreadyExists(err) != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(adminConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: r.groups}
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
