package apischema

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Decode reads the objects of a YAML stream, documents separated by ---,
// or of a JSON one, as kubectl reads a file it sends: YAML is turned into
// JSON, JSON is taken as it is, and empty documents are skipped. Numbers
// without a fraction are read as integers, as the API server reads them.
func Decode(r io.Reader) ([]*unstructured.Unstructured, error) {
	docs := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var objects []*unstructured.Unstructured
	for i := 1; ; i++ {
		var doc runtime.RawExtension
		err := docs.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		data := bytes.TrimSpace(doc.Raw)
		if len(data) == 0 || bytes.Equal(data, []byte("null")) {
			continue
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("document %d is not an object: %w", i, err)
		}
		objects = append(objects, &unstructured.Unstructured{Object: obj})
	}
}
