package gather

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := securityv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Someone who may list cluster policies but not read the namespace: a
// namespace policy sharing a cluster policy's name is not judged as if it
// routed, and why says the namespace could not be read.
func TestWhyWithoutTheNamespacesLabels(t *testing.T) {
	own := &securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "audit"}}
	other := &securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "desk"}}
	cluster := &securityv1alpha1.ClusterEscalationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "audit"}}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(own, other, cluster).
		WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if key.Namespace == "" && key.Name == "finance" {
				return apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "finance", errors.New("no"))
			}
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	n, err := ForNamespace(t.Context(), c, "finance")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Unread) != 1 || !strings.Contains(n.Unread[0].Error(), "cannot read namespace finance") {
		t.Errorf("unread = %v", n.Unread)
	}
	if len(n.Candidates.Namespaced) != 1 || n.Candidates.Namespaced[0].Name != "desk" {
		t.Errorf("judged as routing: %v, want desk only", n.Candidates.Namespaced)
	}
	if len(n.Candidates.Excluded) != 1 || !strings.Contains(n.Candidates.Excluded[0].Reason, "may be left out") {
		t.Errorf("excluded: %+v", n.Candidates.Excluded)
	}
}
