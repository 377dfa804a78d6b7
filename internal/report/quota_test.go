package report

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestQuotaShortfalls(t *testing.T) {
	// quota is a quota named name whose status limits the resources in
	// hard and counts those in used.
	quota := func(name string, hard, used corev1.ResourceList) corev1.ResourceQuota {
		return corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: name},
			Spec:       corev1.ResourceQuotaSpec{Hard: hard},
			Status:     corev1.ResourceQuotaStatus{Hard: hard, Used: used},
		}
	}
	incidents := func(n int64) corev1.ResourceList {
		return corev1.ResourceList{IncidentCount: *resource.NewQuantity(n, resource.DecimalSI)}
	}
	pods := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}
	scoped := quota("best-effort", incidents(1), incidents(1))
	scoped.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
	selected := quota("high-priority", incidents(1), incidents(1))
	selected.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{
		{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"}},
	}}
	notCounted := quota("new", incidents(4), nil)
	notSynced := quota("changed", nil, nil)
	notSynced.Spec.Hard = incidents(1)

	tests := map[string]struct {
		quotas   []corev1.ResourceQuota
		creating int
		want     []QuotaShortfall
	}{
		"no quota":                    {creating: 6},
		"room for all":                {quotas: []corev1.ResourceQuota{quota("incidents", incidents(10), incidents(4))}, creating: 6},
		"room for three of six":       {quotas: []corev1.ResourceQuota{quota("incidents", incidents(4), incidents(1))}, creating: 6, want: []QuotaShortfall{{Namespace: "finance", Name: "incidents", Hard: 4, Used: 1, Creating: 6}}},
		"used beyond a lowered limit": {quotas: []corev1.ResourceQuota{quota("incidents", incidents(2), incidents(3))}, creating: 1, want: []QuotaShortfall{{Namespace: "finance", Name: "incidents", Hard: 2, Used: 3, Creating: 1}}},
		"each quota judged": {
			quotas:   []corev1.ResourceQuota{quota("team", incidents(100), incidents(0)), quota("pods", pods, nil), quota("incidents", incidents(4), incidents(1))},
			creating: 6,
			want:     []QuotaShortfall{{Namespace: "finance", Name: "incidents", Hard: 4, Used: 1, Creating: 6}},
		},
		"scoped quotas count only pods":         {quotas: []corev1.ResourceQuota{scoped, selected}, creating: 6},
		"a limit not yet counted: the dry run":  {quotas: []corev1.ResourceQuota{notCounted}, creating: 6},
		"a limit not yet in the status: unused": {quotas: []corev1.ResourceQuota{notSynced}, creating: 6},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := QuotaShortfalls(tc.quotas, tc.creating); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("QuotaShortfalls = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestQuotaShortfallString(t *testing.T) {
	for s, want := range map[QuotaShortfall]string{
		{Namespace: "finance", Name: "incidents", Hard: 4, Used: 1, Creating: 6}: "ResourceQuota finance/incidents (count/incidents.security.incidentops.io: 1 used of 4) has room for 3 more incident(s), not the 6 to import there",
		{Namespace: "finance", Name: "incidents", Hard: 2, Used: 3, Creating: 1}: "ResourceQuota finance/incidents (count/incidents.security.incidentops.io: 3 used of 2) has room for 0 more incident(s), not the 1 to import there",
	} {
		if got := s.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
