package report

// Quota: whether a namespace's ResourceQuotas leave room for every
// incident an import creates there. The API server's dry run judges one
// create at a time, so a quota with room for three accepts each of six in
// a dry run and refuses the fourth create; an import that creates all or
// nothing counts them together first.

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// IncidentCount is the resource a ResourceQuota names to limit how many
// Incidents its namespace may hold.
var IncidentCount = corev1.ResourceName("count/incidents." + securityv1alpha1.GroupVersion.Group)

// QuotaShortfall is a ResourceQuota that would refuse some of the
// incidents an import creates in its namespace.
type QuotaShortfall struct {
	Namespace, Name string
	// Hard is how many incidents the quota allows, and Used how many it
	// counts already.
	Hard, Used int64
	// Creating is how many incidents the import creates in the namespace.
	Creating int
}

func (s QuotaShortfall) String() string {
	room := max(s.Hard-s.Used, 0)
	return fmt.Sprintf("ResourceQuota %s/%s (%s: %d used of %d) has room for %d more incident(s), not the %d to import there",
		s.Namespace, s.Name, IncidentCount, s.Used, s.Hard, room, s.Creating)
}

// QuotaShortfalls are the quotas of one namespace that would refuse some
// of creating incidents there. They are read as the API server's quota
// admission reads them: by the limit and count in the quota's status, as
// the quota controller last wrote them (a limit not yet in the status is
// not enforced yet), and never a quota with scopes, which count only pods.
// A quota whose status has the limit but no count yet refuses every
// create: the API server's dry run says so, row by row.
func QuotaShortfalls(quotas []corev1.ResourceQuota, creating int) []QuotaShortfall {
	var short []QuotaShortfall
	for _, q := range quotas {
		if len(q.Spec.Scopes) > 0 || (q.Spec.ScopeSelector != nil && len(q.Spec.ScopeSelector.MatchExpressions) > 0) {
			continue
		}
		hard, limited := q.Status.Hard[IncidentCount]
		used, counted := q.Status.Used[IncidentCount]
		if !limited || !counted {
			continue
		}
		if hard.Value()-used.Value() < int64(creating) {
			short = append(short, QuotaShortfall{Namespace: q.Namespace, Name: q.Name, Hard: hard.Value(), Used: used.Value(), Creating: creating})
		}
	}
	return short
}
