package report

import (
	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// WithArchived are the incidents a document covers: those of the cluster,
// and those retention archived and removed from it. An incident archived
// but still in the cluster (removed after it was archived) is the
// cluster's, once.
func WithArchived(live, archived []securityv1alpha1.Incident) []securityv1alpha1.Incident {
	if len(archived) == 0 {
		return live
	}
	seen := make(map[types.UID]bool, len(live))
	for i := range live {
		seen[live[i].UID] = true
	}
	out := append([]securityv1alpha1.Incident(nil), live...)
	for i := range archived {
		if !seen[archived[i].UID] {
			seen[archived[i].UID] = true
			out = append(out, archived[i])
		}
	}
	return out
}
