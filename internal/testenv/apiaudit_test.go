package testenv

import (
	"reflect"
	"testing"
)

// A refusal the same request later got past is the authoriser warming up;
// one never allowed afterwards is a verb the shipped RBAC lacks.
func TestRefusedKeepsOnlyWhatWasNeverAllowedAfterwards(t *testing.T) {
	warmingUp := OperatorRequest{Verb: "watch", Resource: "incidents", Namespace: "a", Code: 403}
	missing := OperatorRequest{Verb: "patch", Resource: "incidents", Namespace: "a", Name: "laptop", Code: 403}
	otherNamespace := OperatorRequest{Verb: "watch", Resource: "incidents", Namespace: "b", Code: 403}
	requests := []OperatorRequest{
		warmingUp, missing, otherNamespace,
		{Verb: "watch", Resource: "incidents", Namespace: "a", Code: 200},
		{Verb: "patch", Resource: "incidents", Subresource: "status", Namespace: "a", Code: 200},
		missing,
	}
	got := Refused(requests)
	want := []OperatorRequest{missing, otherNamespace, missing}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Refused = %v, want %v", got, want)
	}
}
