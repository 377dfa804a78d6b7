package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterEscalationPolicySpec is an EscalationPolicy's spec, written once
// for the namespaces its selector picks. The rules of EscalationPolicySpec
// apply to it as they are.
type ClusterEscalationPolicySpec struct {
	EscalationPolicySpec `json:",inline"`

	// NamespaceSelector picks the namespaces whose incidents the policy
	// applies to, by the namespaces' labels. Unset, it applies to every
	// namespace; an empty selector ({}) does too.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// Protected keeps the policy in every routing decision of the selected
	// namespaces: a policy ordered before it that matches with
	// continue: false stops every other policy, but not this one. A
	// department cannot switch off the organisation's rules.
	// +optional
	Protected bool `json:"protected,omitempty"`
}

// ClusterEscalationPolicy is an EscalationPolicy for every namespace its
// namespaceSelector picks: the organisation's rules, written once. It is
// ordered with the namespace's own policies by priority, and when
// protected, no namespace policy can stop it. Its receivers' Secrets live in
// the operator's namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cescpol,categories=incidentops
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Continue",type=boolean,JSONPath=`.spec.continue`
// +kubebuilder:printcolumn:name="Protected",type=boolean,JSONPath=`.spec.protected`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterEscalationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ClusterEscalationPolicySpec `json:"spec"`
	// +optional
	Status EscalationPolicyStatus `json:"status,omitempty"`
}

// ClusterEscalationPolicyList is a list of ClusterEscalationPolicies.
//
// +kubebuilder:object:root=true
type ClusterEscalationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterEscalationPolicy `json:"items"`
}

// AsEscalationPolicy is the policy as routing and delivery see every
// policy: its name, generation, spec and status. It has no namespace, which
// is how the rest of the operator tells it from a namespace's own.
func (p *ClusterEscalationPolicy) AsEscalationPolicy() *EscalationPolicy {
	return &EscalationPolicy{
		ObjectMeta: p.ObjectMeta,
		Spec:       p.Spec.EscalationPolicySpec,
		Status:     p.Status,
	}
}

// Kinds a PolicyReference may name.
const (
	KindEscalationPolicy        = "EscalationPolicy"
	KindClusterEscalationPolicy = "ClusterEscalationPolicy"
)

func init() {
	SchemeBuilder.Register(&ClusterEscalationPolicy{}, &ClusterEscalationPolicyList{})
}
