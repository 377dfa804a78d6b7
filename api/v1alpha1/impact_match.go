package v1alpha1

// ImpactFlagField is one flag an ImpactMatch may ask for, and the field of
// Impact it is judged on.
// +kubebuilder:object:generate=false
type ImpactFlagField struct {
	// Name is the flag's field name in JSON: personalData, socialCare, ...
	Name string
	// Want is what the match asks for; nil when it does not ask.
	Want func(*ImpactMatch) *bool
	// Got is what the incident has.
	Got func(*Impact) bool
}

// ImpactFlagFields are every flag of ImpactMatch, in the API's order.
// Routing, regimes' appliesTo and policy tests judge impact through this
// one list; TestImpactMatchFlagsCoverEveryField fails when a field of
// ImpactMatch is not in it.
var ImpactFlagFields = []ImpactFlagField{
	{"personalData", func(m *ImpactMatch) *bool { return m.PersonalData }, func(i *Impact) bool { return i.PersonalData }},
	{"specialCategoryData", func(m *ImpactMatch) *bool { return m.SpecialCategoryData }, func(i *Impact) bool { return i.SpecialCategoryData }},
	{"socialCare", func(m *ImpactMatch) *bool { return m.SocialCare }, func(i *Impact) bool { return i.SocialCare }},
	{"itRelated", func(m *ImpactMatch) *bool { return m.ITRelated }, func(i *Impact) bool { return i.ITRelated }},
	{"serviceAffecting", func(m *ImpactMatch) *bool { return m.ServiceAffecting }, func(i *Impact) bool { return i.ServiceAffecting }},
	{"businessCritical", func(m *ImpactMatch) *bool { return m.BusinessCritical }, func(i *Impact) bool { return i.BusinessCritical }},
	{"securityBreach", func(m *ImpactMatch) *bool { return m.SecurityBreach }, func(i *Impact) bool { return i.SecurityBreach }},
}

// Matches is true when every flag the match sets equals the incident's; a
// nil match matches every incident.
func (m *ImpactMatch) Matches(impact Impact) bool {
	if m == nil {
		return true
	}
	for _, f := range ImpactFlagFields {
		if want := f.Want(m); want != nil && *want != f.Got(&impact) {
			return false
		}
	}
	return true
}
