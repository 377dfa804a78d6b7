package patch

import (
	"encoding/json"
	"fmt"
)

// The steps of a Filing are recorded one per request, each as a JSON patch
// that first tests the Filing's metadata.generation as it was read. The
// API server raises the generation with every change to the spec, and
// only then (the operator's writes to status leave it as it is), so
// whatever was recorded meanwhile (another agreement, the same decision
// made by someone else) makes the test fail, and no step is applied over a
// Filing its sender did not see: the sender reads the Filing again and
// decides afresh. A test of the list alone would not do: with no
// agreement yet there is no list to test, and a first agreement recorded
// meanwhile would be replaced.

// FilingStep is the JSON patch that records a step the Filing read at
// generation does not have yet: spec.<field> (decision, draft, filed,
// acknowledgement) becomes value.
func FilingStep(generation int64, field string, value any) ([]byte, error) {
	return filingPatch(generation, op{Op: "add", Path: "/spec/" + field, Value: value})
}

// FilingAppend is the JSON patch that appends item to the list
// spec.<list> (agreements, correspondence) of the Filing read at
// generation, which then held existing items.
func FilingAppend(generation int64, list string, existing int, item any) ([]byte, error) {
	if existing == 0 {
		return filingPatch(generation, op{Op: "add", Path: "/spec/" + list, Value: []any{item}})
	}
	return filingPatch(generation, op{Op: "add", Path: "/spec/" + list + "/-", Value: item})
}

func filingPatch(generation int64, record op) ([]byte, error) {
	if generation < 1 {
		// The API server gives every object a generation from 1; a test of
		// none would fail on every Filing.
		return nil, fmt.Errorf("the Filing was read without its generation: read it from the API server")
	}
	return json.Marshal([]op{{Op: "test", Path: "/metadata/generation", Value: generation}, record})
}
