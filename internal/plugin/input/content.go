package input

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Content reads what a filing's draft says, field by field: a YAML or JSON
// map of field to text from a file (data, read from file; nil when none
// was given), then each FIELD=TEXT of flag. A field given twice is
// refused, whether in the file or on the command line: a draft cannot be
// changed once recorded, so which of two texts was meant must not be
// guessed.
func Content(flag string, pairs []string, file string, data []byte) (map[string]securityv1alpha1.ContentValue, error) {
	content := map[string]securityv1alpha1.ContentValue{}
	if data != nil {
		fromFile, err := contentFile(file, data)
		if err != nil {
			return nil, err
		}
		maps.Copy(content, fromFile)
	}
	for _, pair := range pairs {
		field, text, ok := strings.Cut(pair, "=")
		field = strings.TrimSpace(field)
		switch {
		case !ok || field == "":
			return nil, fmt.Errorf("--%s %q is not FIELD=TEXT, such as --%s nature='Laptop stolen from a car'", flag, pair, flag)
		case strings.TrimSpace(text) == "":
			return nil, fmt.Errorf("--%s %s= has no text: say what the filing says of %s", flag, field, field)
		}
		if _, twice := content[field]; twice {
			return nil, fmt.Errorf("--%s: %s is given twice: give each field once", flag, field)
		}
		content[field] = securityv1alpha1.ContentValue(text)
	}
	if len(content) == 0 {
		return nil, fmt.Errorf("--%s is required: what the filing says, as FIELD=TEXT, once for each field (or a file of them with --%s-file)", flag, flag)
	}
	return content, nil
}

// contentFile reads a map of field to text. A number is taken as its
// digits (dataSubjectCount: 1200), true and false as those words; a list,
// a map or nothing is refused, as a filing's field is text.
func contentFile(file string, data []byte) (map[string]securityv1alpha1.ContentValue, error) {
	// YAML keys are not checked for repeats by the JSON it becomes, so
	// they are checked strictly here.
	if err := yaml.UnmarshalStrict(data, &map[string]any{}); err != nil {
		return nil, fmt.Errorf("--content-file %s is not a map of field to text: %w", file, err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("--content-file %s: %w", file, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("--content-file %s is not a map of field to text: %w", file, err)
	}
	content := map[string]securityv1alpha1.ContentValue{}
	for _, field := range slices.Sorted(maps.Keys(raw)) {
		var text string
		switch v := raw[field].(type) {
		case string:
			text = v
		case json.Number, bool:
			text = fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("--content-file %s: %s is not text: write what the filing says of it as one string", file, field)
		}
		if strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("--content-file %s: %s has no text: say what the filing says of it, or leave it out", file, field)
		}
		content[field] = securityv1alpha1.ContentValue(text)
	}
	return content, nil
}
