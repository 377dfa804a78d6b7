package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AssetType is the kind of thing an Asset is.
// +kubebuilder:validation:Enum=Laptop;MobilePhone;RemovableMedia;Server;Application;NetworkDevice;PaperRecords;Other
type AssetType string

const (
	AssetLaptop         AssetType = "Laptop"
	AssetMobilePhone    AssetType = "MobilePhone"
	AssetRemovableMedia AssetType = "RemovableMedia"
	AssetServer         AssetType = "Server"
	AssetApplication    AssetType = "Application"
	AssetNetworkDevice  AssetType = "NetworkDevice"
	AssetPaperRecords   AssetType = "PaperRecords"
	AssetOther          AssetType = "Other"
)

// DataClassification is how sensitive the information on an Asset is.
// +kubebuilder:validation:Enum=Public;Internal;Confidential;Restricted
type DataClassification string

const (
	ClassificationPublic       DataClassification = "Public"
	ClassificationInternal     DataClassification = "Internal"
	ClassificationConfidential DataClassification = "Confidential"
	ClassificationRestricted   DataClassification = "Restricted"
)

// SupplierContactVia says how staff reach a supplier's help desk.
// +kubebuilder:validation:Enum=Direct;NamedContact
type SupplierContactVia string

const (
	// ContactDirect means anyone may contact the supplier's help desk.
	ContactDirect SupplierContactVia = "Direct"
	// ContactNamedContact means the supplier is reached only through a named
	// person in the organisation, such as the MI Manager.
	ContactNamedContact SupplierContactVia = "NamedContact"
)

// Supplier is the third party that provides or supports an Asset.
// +kubebuilder:validation:XValidation:rule="self.contactVia != 'NamedContact' || has(self.namedContact)",message="namedContact is required when contactVia is NamedContact"
// +kubebuilder:validation:XValidation:rule="self.contactVia != 'Direct' || has(self.helpDesk)",message="helpDesk is required when contactVia is Direct"
type Supplier struct {
	// Name of the supplier.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +required
	Name string `json:"name"`

	// ContactVia says whether the supplier's help desk is contacted directly
	// or only through a named contact.
	// +kubebuilder:default=Direct
	// +optional
	ContactVia SupplierContactVia `json:"contactVia,omitempty"`

	// HelpDesk is the supplier's help desk. Required when contactVia is Direct.
	// +optional
	HelpDesk *Contact `json:"helpDesk,omitempty"`

	// NamedContact is the person in the organisation through whom the
	// supplier is contacted. Required when contactVia is NamedContact.
	// +optional
	NamedContact *Contact `json:"namedContact,omitempty"`
}

// AssetSpec describes an information asset: equipment, a system, or records.
type AssetSpec struct {
	// Type of the asset.
	// +required
	Type AssetType `json:"type"`

	// AssetTag is the identifier in the asset register.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +optional
	AssetTag string `json:"assetTag,omitempty"`

	// Description of the asset, for people reading an incident about it.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +optional
	Description string `json:"description,omitempty"`

	// Owner is the person responsible for the asset.
	// +required
	Owner Contact `json:"owner"`

	// SystemOwner is the owner of the system the asset belongs to, who is
	// told when an incident affects the service.
	// +optional
	SystemOwner *Contact `json:"systemOwner,omitempty"`

	// Supplier provides or supports the asset.
	// +optional
	Supplier *Supplier `json:"supplier,omitempty"`

	// DataClassification is how sensitive the information on the asset is.
	// +kubebuilder:default=Internal
	// +optional
	DataClassification DataClassification `json:"dataClassification,omitempty"`

	// HoldsPersonalData is true when the asset holds personal data.
	// +optional
	HoldsPersonalData bool `json:"holdsPersonalData,omitempty"`

	// BusinessCritical is true when the business cannot run without the asset.
	// +optional
	BusinessCritical bool `json:"businessCritical,omitempty"`

	// ReturnedToService records that a person has checked the asset is back
	// in service after it was lost, stolen or destroyed. The operator moves
	// an asset back to InService only through this, and only when it is
	// later than the incident that took the asset out of service.
	// +optional
	ReturnedToService *ReturnedToService `json:"returnedToService,omitempty"`
}

// ReturnedToService is a person's word that an asset is back.
type ReturnedToService struct {
	// At is when the asset was back in service.
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	// +required
	At metav1.Time `json:"at"`
	// By is who says so.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +required
	By string `json:"by"`
	// Note, such as where the asset was found.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +optional
	Note string `json:"note,omitempty"`
}

// AssetState is what is known of the asset's whereabouts and integrity.
// +kubebuilder:validation:Enum=InService;Lost;Stolen;Destroyed;Compromised
type AssetState string

const (
	AssetInService   AssetState = "InService"
	AssetLost        AssetState = "Lost"
	AssetStolen      AssetState = "Stolen"
	AssetDestroyed   AssetState = "Destroyed"
	AssetCompromised AssetState = "Compromised"
)

// AssetStatus is the observed state of an Asset.
type AssetStatus struct {
	// ObservedGeneration is the generation of the spec last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// State of the asset.
	// +optional
	State AssetState `json:"state,omitempty"`

	// StateChangedAt is when the state last changed: the awareness time of
	// the incident that changed it, or when the asset returned to service.
	// +optional
	StateChangedAt *metav1.Time `json:"stateChangedAt,omitempty"`

	// StateIncident is the incident that took the asset out of service.
	// +optional
	StateIncident string `json:"stateIncident,omitempty"`

	// OpenIncidents is the number of unresolved incidents that name the asset.
	// +optional
	OpenIncidents *int32 `json:"openIncidents,omitempty"`

	// Conditions: Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Asset is an information asset — a laptop, a phone, removable media, a
// system or paper records — that incidents can affect.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ast,categories=incidentops
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner.name`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Open",type=integer,JSONPath=`.status.openIncidents`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Classification",type=string,JSONPath=`.spec.dataClassification`,priority=1
// +kubebuilder:printcolumn:name="Supplier",type=string,JSONPath=`.spec.supplier.name`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Asset struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec AssetSpec `json:"spec"`
	// +optional
	Status AssetStatus `json:"status,omitempty"`
}

// AssetList is a list of Assets.
//
// +kubebuilder:object:root=true
type AssetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Asset `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Asset{}, &AssetList{})
}
