package v1alpha1

// The values the Incident CRD accepts for its enumerations, for code that
// must go through each (imports, policy tests). The kubebuilder markers
// are what the API server enforces; internal/report's schema_test parses
// them and fails when these lists differ.

// IncidentTypes are the values of spec.type.
var IncidentTypes = []IncidentType{TypeIncident, TypeWeakness}

// IncidentCategories are the values of spec.category.
var IncidentCategories = []IncidentCategory{
	CategoryLoss, CategoryTheft, CategoryDestruction, CategoryPhysicalSecurityBreach, CategoryMalware, CategoryPhishing,
	CategoryUnauthorisedDisclosure, CategorySystemMalfunction, CategoryInadequateDisposal, CategoryPasswordExposure,
	CategoryPolicyNonCompliance, CategoryInappropriateRecordAccess, CategoryChainLetter, CategoryCredentialMisuse, CategoryOther,
}

// Severities are the values of spec.severity, least severe first.
var Severities = []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
