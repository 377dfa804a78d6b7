package routing

import (
	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/cel/common"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// incidentActivation binds `incident` to what an expression may read of it:
// the metadata the schema declares and the spec. Only those are converted,
// not the status (often the largest part) or the managed fields.
func incidentActivation(incident *securityv1alpha1.Incident, assets map[string]*securityv1alpha1.Asset) (cel.Activation, error) {
	spec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&incident.Spec)
	if err != nil {
		return nil, err
	}
	if _, ok := spec["type"]; !ok {
		// What the API server would have stored; see incidentType.
		spec["type"] = string(incident.IncidentType())
	}
	metadata := map[string]any{}
	for key, value := range map[string]string{"name": incident.Name, "namespace": incident.Namespace} {
		if value != "" {
			metadata[key] = value
		}
	}
	for key, values := range map[string]map[string]string{"labels": incident.Labels, "annotations": incident.Annotations} {
		if len(values) > 0 {
			m := make(map[string]any, len(values))
			for k, v := range values {
				m[k] = v
			}
			metadata[key] = m
		}
	}
	named := []any{}
	for _, name := range incident.Spec.Assets {
		a := assets[name]
		if a == nil {
			continue
		}
		aspec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&a.Spec)
		if err != nil {
			return nil, err
		}
		named = append(named, map[string]any{"metadata": map[string]any{"name": a.Name}, "spec": aspec})
	}
	return activation(map[string]any{"metadata": metadata, "spec": spec}, named)
}

// unstructuredActivation binds `incident` to an incident in its unstructured
// form, read through the schema the expressions were checked against, as
// the API server reads an object for a CRD validation rule.
func unstructuredActivation(incident map[string]any) (cel.Activation, error) {
	return activation(incident, []any{})
}

// activation binds `incident` and `assets`, each in its unstructured form.
func activation(incident map[string]any, assets []any) (cel.Activation, error) {
	e, err := celEnv()
	if err != nil {
		return nil, err
	}
	return cel.NewActivation(map[string]any{
		incidentVar: remember(common.UnstructuredToVal(incident, e.schema)),
		assetsVar:   common.UnstructuredToVal(assets, e.assets),
	})
}

// rememberedMap is an object or map of one incident that keeps each value
// read from it. UnstructuredToVal wraps a field's value anew, and unescapes
// its name with a regular expression, every time the field is read; routing
// one incident through a thousand expressions reads the same few fields a
// thousand times, and this halves its cost.
//
// It belongs to one evaluation of one incident and is not safe for
// concurrent use.
type rememberedMap struct {
	traits.Mapper
	read map[string]foundValue
}

type foundValue struct {
	value ref.Val
	found bool
}

func remember(v ref.Val) ref.Val {
	if m, ok := v.(traits.Mapper); ok {
		return &rememberedMap{Mapper: m, read: map[string]foundValue{}}
	}
	return v
}

func (m *rememberedMap) Find(key ref.Val) (ref.Val, bool) {
	name, ok := key.(celtypes.String)
	if !ok {
		return m.Mapper.Find(key)
	}
	if f, ok := m.read[string(name)]; ok {
		return f.value, f.found
	}
	value, found := m.Mapper.Find(key)
	if found {
		value = remember(value)
	}
	m.read[string(name)] = foundValue{value, found}
	return value, found
}

// Get and Contains answer as UnstructuredToVal's maps do, from Find.
func (m *rememberedMap) Get(key ref.Val) ref.Val {
	if value, found := m.Find(key); found {
		return value
	}
	return celtypes.ValOrErr(key, "no such key: %v", key)
}

func (m *rememberedMap) Contains(key ref.Val) ref.Val {
	value, found := m.Find(key)
	if value != nil && celtypes.IsUnknownOrError(value) {
		return value
	}
	return celtypes.Bool(found)
}

func (m *rememberedMap) Equal(other ref.Val) ref.Val {
	if o, ok := other.(*rememberedMap); ok {
		other = o.Mapper
	}
	return m.Mapper.Equal(other)
}
