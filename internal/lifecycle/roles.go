package lifecycle

// Roles: the people found from the incident and its assets.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// person is someone to tell in a role, and whom they stand in for.
type person struct {
	email       string
	standsInFor string
}

// resolve finds the people in a role. A line manager or department
// manager who is absent, per the reporter's Department, is replaced by the
// first of its deputies who is not (SH 4.2).
func (a *advancer) resolve(role securityv1alpha1.Role) []person {
	var out []person
	addEmail := func(c *securityv1alpha1.Contact) {
		if c != nil && c.Email != "" && !slices.ContainsFunc(out, func(p person) bool { return p.email == c.Email }) {
			out = append(out, person{email: c.Email})
		}
	}
	// addManager adds a manager, or their deputy while they are away.
	addManager := func(c *securityv1alpha1.Contact) {
		if c == nil || c.Email == "" {
			return
		}
		now := metav1.NewTime(a.Now)
		away := a.Department.AbsentAt(c.Email, now)
		if away == nil {
			addEmail(c)
			return
		}
		for i := range a.Department.Spec.Deputies {
			d := &a.Department.Spec.Deputies[i]
			if d.Email != "" && d.Email != c.Email && a.Department.AbsentAt(d.Email, now) == nil {
				if !slices.ContainsFunc(out, func(p person) bool { return p.email == d.Email }) {
					out = append(out, person{email: d.Email, standsInFor: fmt.Sprintf("%s <%s>, absent until %s", c.Name, c.Email, away.Until.UTC().Format(time.RFC3339))})
				}
				return
			}
		}
		a.event(true, "NoDeputy", "%s <%s> is absent until %s and no deputy of department %s is available: nobody is told in their place",
			c.Name, c.Email, away.Until.UTC().Format(time.RFC3339), a.Department.Spec.Name)
	}
	reporter := a.inc.Spec.Reporter
	switch role {
	case securityv1alpha1.RoleReporter:
		addEmail(&reporter.Contact)
	case securityv1alpha1.RoleLineManager:
		addManager(reporter.LineManager)
	case securityv1alpha1.RoleDepartmentManager:
		if a.Department != nil {
			for i := range a.Department.Spec.Managers {
				addManager(&a.Department.Spec.Managers[i])
			}
		}
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
