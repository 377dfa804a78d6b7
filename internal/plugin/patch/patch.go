// Package patch builds the patches kubectl incident sends to record what
// a person did. They carry what the person says (a name, a note, a
// reason); who sent them is the account the API server authenticated,
// which its admission policies write beside each record, so nothing here
// names an account.
package patch

import (
	"encoding/json"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// spec wraps a part of an incident's spec as a merge patch.
func spec(fields map[string]any) []byte {
	// Marshalling maps of strings and times cannot fail.
	data, _ := json.Marshal(map[string]any{"spec": fields})
	return data
}

// omitEmpty sets key only when value is not blank: a merge patch with a
// blank note would store one.
func omitEmpty(m map[string]any, key, value string) map[string]any {
	if value != "" {
		m[key] = value
	}
	return m
}

// Acknowledge is the merge patch that records an acknowledgement.
func Acknowledge(by, note string) []byte {
	return spec(map[string]any{"acknowledgement": omitEmpty(map[string]any{"by": by}, "note", note)})
}

// Resolve is the merge patch that records a resolution.
func Resolve(state securityv1alpha1.ResolutionState, by, summary string) []byte {
	return spec(map[string]any{"resolution": omitEmpty(map[string]any{"state": state, "by": by}, "summary", summary)})
}

// AuthorityNotified is the merge patch that records the report to the
// supervisory authority.
func AuthorityNotified(at time.Time, reference, delayReason string) []byte {
	n := omitEmpty(map[string]any{"notifiedAt": at.UTC().Format(time.RFC3339)}, "reference", reference)
	return spec(map[string]any{"authorityNotification": omitEmpty(n, "delayReason", delayReason)})
}

// PlaceHold is the merge patch that places a legal hold. It replaces a
// hold released before, whose placedBy and released go with it: the API
// server writes the new placedBy.
func PlaceHold(reason string) []byte {
	return spec(map[string]any{"legalHold": map[string]any{"reason": reason, "placedBy": nil, "released": nil}})
}

// ReleaseHold is the merge patch that releases the legal hold in force.
func ReleaseHold(reason string) []byte {
	return spec(map[string]any{"legalHold": map[string]any{"released": map[string]any{"reason": reason}}})
}

// op is one operation of a JSON patch (RFC 6902).
type op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Transfer is the JSON patch that appends one custody transfer to an
// item of evidence whose spec.custody is current, as it was read (nil
// when it has none). It first tests that the list is still exactly what
// was read, so that two people recording a transfer at once cannot both
// take the same sequence: the second patch fails and can be made again
// from the new holder. With no transfer yet there is no list to test; a
// transfer recorded meanwhile would be replaced, which the CRD refuses
// (a custody transfer cannot be changed once recorded).
func Transfer(current []any, t securityv1alpha1.CustodyTransfer) ([]byte, error) {
	var ops []op
	if len(current) == 0 {
		ops = []op{{Op: "add", Path: "/spec/custody", Value: []securityv1alpha1.CustodyTransfer{t}}}
	} else {
		ops = []op{
			{Op: "test", Path: "/spec/custody", Value: current},
			{Op: "add", Path: "/spec/custody/-", Value: t},
		}
	}
	return json.Marshal(ops)
}
