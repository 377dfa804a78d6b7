// Package v1alpha1 contains the v1alpha1 API of the security.incidentops.io
// group: Incidents, the Assets they affect, and the EscalationPolicies that
// decide who hears about them.
//
// +kubebuilder:object:generate=true
// +groupName=security.incidentops.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "security.incidentops.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
