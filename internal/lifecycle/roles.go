package lifecycle

// Roles: the people found from the incident and its assets.

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// resolve finds the e-mail addresses of the people in a role.
func (a *advancer) resolve(role securityv1alpha1.Role) []string {
	var out []string
	addEmail := func(c *securityv1alpha1.Contact) {
		if c != nil && c.Email != "" && !slices.Contains(out, c.Email) {
			out = append(out, c.Email)
		}
	}
	reporter := a.inc.Spec.Reporter
	switch role {
	case securityv1alpha1.RoleReporter:
		addEmail(&reporter.Contact)
	case securityv1alpha1.RoleLineManager:
		addEmail(reporter.LineManager)
	default:
		for _, name := range a.inc.Spec.Assets {
			asset := a.Assets[name]
			if asset == nil {
				continue
			}
			switch role {
			case securityv1alpha1.RoleAssetOwner:
				addEmail(&asset.Spec.Owner)
			case securityv1alpha1.RoleSystemOwner:
				addEmail(asset.Spec.SystemOwner)
			case securityv1alpha1.RoleSupplier:
				if s := asset.Spec.Supplier; s != nil {
					if s.ContactVia == securityv1alpha1.ContactNamedContact {
						addEmail(s.NamedContact)
					} else {
						addEmail(s.HelpDesk)
					}
				}
			}
		}
	}
	return out
}

// checkAssets reports assets the incident names that do not exist.
func (a *advancer) checkAssets() {
	var missing []string
	for _, name := range a.inc.Spec.Assets {
		if a.Assets[name] == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		if len(a.inc.Spec.Assets) > 0 {
			a.condition(securityv1alpha1.ConditionAssetsFound, metav1.ConditionTrue, securityv1alpha1.ReasonAllFound,
				fmt.Sprintf("%d assets found", len(a.inc.Spec.Assets)))
		}
		return
	}
	message := fmt.Sprintf("Asset %s not found in namespace %s; people reached through it are not told", strings.Join(missing, ", "), a.inc.Namespace)
	if a.condition(securityv1alpha1.ConditionAssetsFound, metav1.ConditionFalse, securityv1alpha1.ReasonAssetNotFound, message) {
		a.event(true, "AssetNotFound", "%s", message)
	}
}
