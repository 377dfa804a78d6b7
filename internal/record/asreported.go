package record

import (
	"slices"
	"strconv"
	"strings"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// AsReported is the incident as it was created: the current spec with each
// change in spec.changes undone, newest first, from the old values the API
// server kept. A change that fell out of spec.changes cannot be undone; its
// fields keep their later values.
func AsReported(incident *securityv1alpha1.Incident) *securityv1alpha1.Incident {
	if len(incident.Spec.Changes) == 0 {
		return incident
	}
	reported := incident.DeepCopy()
	changes := slices.Clone(reported.Spec.Changes)
	slices.SortFunc(changes, func(a, b securityv1alpha1.SpecChange) int { return int(b.Generation - a.Generation) })
	for _, change := range changes {
		for _, f := range change.Fields {
			undo(&reported.Spec, f)
		}
	}
	return reported
}

// undo sets the field a change named back to its old value. Records
// (acknowledgement and the rest) are recorded from the status, not here.
func undo(spec *securityv1alpha1.IncidentSpec, f securityv1alpha1.FieldChange) {
	flag := func(p *bool) { *p = f.From == "true" }
	contact := func(c **securityv1alpha1.Contact) *securityv1alpha1.Contact {
		if *c == nil {
			*c = &securityv1alpha1.Contact{}
		}
		return *c
	}
	switch f.Field {
	case "title":
		spec.Title = f.From
	case "description":
		spec.Description = f.From
	case "type":
		spec.Type = securityv1alpha1.IncidentType(f.From)
	case "category":
		spec.Category = securityv1alpha1.IncidentCategory(f.From)
	case "severity":
		spec.Severity = securityv1alpha1.Severity(f.From)
	case "reporter.name":
		spec.Reporter.Name = f.From
	case "reporter.email":
		spec.Reporter.Email = f.From
	case "reporter.phone":
		spec.Reporter.Phone = f.From
	case "reporter.department":
		spec.Reporter.Department = f.From
	case "reporter.lineManager.name":
		contact(&spec.Reporter.LineManager).Name = f.From
	case "reporter.lineManager.email":
		contact(&spec.Reporter.LineManager).Email = f.From
	case "reporter.lineManager.phone":
		contact(&spec.Reporter.LineManager).Phone = f.From
	case "assets":
		spec.Assets = nil
		if f.From != "" {
			spec.Assets = strings.Split(f.From, ", ")
		}
	case "impact.personalData":
		flag(&spec.Impact.PersonalData)
	case "impact.specialCategoryData":
		flag(&spec.Impact.SpecialCategoryData)
	case "impact.socialCare":
		flag(&spec.Impact.SocialCare)
	case "impact.itRelated":
		flag(&spec.Impact.ITRelated)
	case "impact.serviceAffecting":
		flag(&spec.Impact.ServiceAffecting)
	case "impact.businessCritical":
		flag(&spec.Impact.BusinessCritical)
	case "impact.securityBreach":
		flag(&spec.Impact.SecurityBreach)
	case "impact.dataSubjects":
		spec.Impact.DataSubjects = nil
		if n, err := strconv.ParseInt(f.From, 10, 32); err == nil {
			spec.Impact.DataSubjects = new(int32(n))
		}
	case "forensicInvestigation":
		flag(&spec.ForensicInvestigation)
	case "legalHold":
		if f.From == "" {
			spec.LegalHold = nil
		}
	}
	if lm := spec.Reporter.LineManager; lm != nil && *lm == (securityv1alpha1.Contact{}) {
		spec.Reporter.LineManager = nil
	}
}
