package v1alpha1

// Contact is a person or a team that can be told about an incident.
type Contact struct {
	// Name of the person or team, as people know them.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	Name string `json:"name"`

	// Email address that notifications by e-mail are sent to: a bare
	// address such as name@example.org, without a display name.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+([.][A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`
	// +optional
	Email string `json:"email,omitempty"`

	// Phone number, for people who are called rather than written to.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	Phone string `json:"phone,omitempty"`
}

// SecretKeyReference names one key of a Secret in the same namespace as the
// object that refers to it. The operator reads only Secrets labelled
// security.incidentops.io/notification-secret: "true", so that a policy
// author cannot send any other Secret of the namespace to a receiver.
type SecretKeyReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`

	// Key within the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +required
	Key string `json:"key"`
}

// NotificationSecretLabel marks a Secret that its owner lets the operator
// read for receivers: a policy can name only Secrets that carry it with the
// value "true", so that a policy author cannot send any other Secret of the
// namespace, such as a database password, to a receiver of their choosing.
const NotificationSecretLabel = "security.incidentops.io/notification-secret"

// Condition types and reasons shared by every kind.
const (
	// ConditionReady summarises whether the object is fully reconciled and
	// doing its job.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is still working
	// towards the desired state; kstatus reads it as InProgress.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a person to act; kstatus
	// reads it as Failed.
	ConditionStalled = "Stalled"

	// ReasonSucceeded is the reason of a Ready condition that is True.
	ReasonSucceeded = "Succeeded"
)
