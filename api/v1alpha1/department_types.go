package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Absence is a period in which a manager cannot be told (SH 4.2: "in the
// absence of the individual's Line Manager, an alternative appropriate
// manager within the Department must be informed").
// +kubebuilder:validation:XValidation:rule="self.until > self.from",message="until must be after from",fieldPath=".until"
type Absence struct {
	// Email of the manager who is away, as incidents and this Department
	// name them.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+([.][A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`
	// +required
	Email string `json:"email"`

	// From is when the absence starts.
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	// +required
	From metav1.Time `json:"from"`

	// Until is when the manager is back.
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	// +required
	Until metav1.Time `json:"until"`

	// Reason, such as annual leave.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +optional
	Reason string `json:"reason,omitempty"`
}

// DepartmentSpec names a department's managers and their deputies.
type DepartmentSpec struct {
	// Name of the department as reporters give it in
	// spec.reporter.department, such as Finance.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +required
	Name string `json:"name"`

	// Managers are told as the role DepartmentManager.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Managers []Contact `json:"managers,omitempty"`

	// Deputies are told in place of a line manager or department manager
	// who is absent, in this order: the first one not absent is told.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Deputies []Contact `json:"deputies,omitempty"`

	// Absences of managers, line managers and deputies.
	// +kubebuilder:validation:MaxItems=200
	// +listType=atomic
	// +optional
	Absences []Absence `json:"absences,omitempty"`
}

// DepartmentStatus is written by the operator.
type DepartmentStatus struct {
	// ObservedGeneration is the generation last checked.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready is False, naming the field, for what the operator
	// cannot use, such as an absence that ends before it starts (stored
	// before the schema refused it); that absence is ignored.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Department declares who manages a department and who stands in for
// them: the line manager role falls back to the department's deputy while
// the line manager is absent, and the role DepartmentManager reaches its
// managers. The operator reads it when it tells people.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dept,categories=incidentops
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Department",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Managers",type=string,JSONPath=`.spec.managers[*].name`
// +kubebuilder:printcolumn:name="Deputies",type=string,JSONPath=`.spec.deputies[*].name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Department struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec DepartmentSpec `json:"spec"`
	// +optional
	Status DepartmentStatus `json:"status,omitempty"`
}

// DepartmentList is a list of Departments.
//
// +kubebuilder:object:root=true
type DepartmentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Department `json:"items"`
}

// AbsentAt is the absence of email at t, if any.
func (d *Department) AbsentAt(email string, t metav1.Time) *Absence {
	if d == nil || email == "" {
		return nil
	}
	for i := range d.Spec.Absences {
		a := &d.Spec.Absences[i]
		if a.Email == email && !t.Before(&a.From) && t.Before(&a.Until) {
			return a
		}
	}
	return nil
}

func init() {
	SchemeBuilder.Register(&Department{}, &DepartmentList{})
}
