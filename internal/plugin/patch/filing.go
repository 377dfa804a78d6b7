package patch

import (
	"encoding/json"
	"fmt"
)

// The steps of a Filing are recorded one per request, each as a JSON patch
// that first tests the Filing's resourceVersion as it was read. Whatever
// was recorded meanwhile (another agreement, the same decision made by
// someone else) makes the test fail, so no request is applied over a
// Filing its sender did not see: the sender reads the Filing again and
// decides afresh. A list test alone would not do: with no agreement yet
// there is no list to test, and a first agreement recorded meanwhile would
// be replaced.

// FilingStep is the JSON patch that records a step the Filing read at
// resourceVersion does not have yet: spec.<field> (decision, draft, filed,
// acknowledgement) becomes value.
func FilingStep(resourceVersion, field string, value any) ([]byte, error) {
	return filingPatch(resourceVersion, op{Op: "add", Path: "/spec/" + field, Value: value})
}

// FilingAppend is the JSON patch that appends item to the list
// spec.<list> (agreements, correspondence) of the Filing read at
// resourceVersion, which then held existing items.
func FilingAppend(resourceVersion, list string, existing int, item any) ([]byte, error) {
	if existing == 0 {
		return filingPatch(resourceVersion, op{Op: "add", Path: "/spec/" + list, Value: []any{item}})
	}
	return filingPatch(resourceVersion, op{Op: "add", Path: "/spec/" + list + "/-", Value: item})
}

func filingPatch(resourceVersion string, record op) ([]byte, error) {
	if resourceVersion == "" {
		// Without it the test would pass on any Filing, read or not.
		return nil, fmt.Errorf("the Filing was read without a resourceVersion: read it from the API server")
	}
	return json.Marshal([]op{{Op: "test", Path: "/metadata/resourceVersion", Value: resourceVersion}, record})
}
