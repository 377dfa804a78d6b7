package report

// What the Incident CRD accepts, for the import to check before anything
// is created. The API types carry these only as kubebuilder markers, so
// they are written out here; schema_test.go parses the markers in
// api/v1alpha1 and fails when the two differ.

import (
	"regexp"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Types, Categories and Severities are the API's lists.
var (
	Types      = securityv1alpha1.IncidentTypes
	Categories = securityv1alpha1.IncidentCategories
	Severities = securityv1alpha1.Severities
)

// ResolutionStates are the values of spec.resolution.state.
var ResolutionStates = []securityv1alpha1.ResolutionState{
	securityv1alpha1.ResolutionResolved,
	securityv1alpha1.ResolutionFalsePositive,
	securityv1alpha1.ResolutionDuplicate,
}

// Lengths and patterns of the fields the import fills, as the CRD's
// MaxLength and Pattern markers set them.
const (
	maxTitle         = 200
	maxDescription   = 10000
	maxName          = 128 // Contact.name, Reporter.department, acknowledgement.by, resolution.by
	maxEmail         = 254
	maxAssets        = 50
	maxAssetName     = 253
	maxSummary       = 4000
	maxReference     = 128
	maxDelayReason   = 4000
	assetNamePattern = `^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	emailPattern     = `^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+([.][A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`
	// titlePattern is the title's CEL rule: at least one visible character.
	titlePattern = `[\p{L}\p{N}\p{P}\p{S}]`
)

var (
	assetName    = regexp.MustCompile(assetNamePattern)
	emailAddress = regexp.MustCompile(emailPattern)
	visible      = regexp.MustCompile(titlePattern)
)
