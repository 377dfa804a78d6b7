package routing

import (
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apimachinery/pkg/util/yaml"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/config/crd"
)

// incidentVar is the name match expressions use for the incident.
const incidentVar = "incident"

// assetsVar is the name match expressions use for the Assets the incident
// names that exist, in the incident's order.
const assetsVar = "assets"

// assetCRD types each item of `assets`.
const assetCRD = "bases/security.incidentops.io_assets.yaml"

// incidentCRD is the generated CustomResourceDefinition whose schema types
// `incident`, so that an expression is checked against the fields the API
// server actually keeps rather than a copy of them that could drift.
const incidentCRD = "bases/security.incidentops.io_incidents.yaml"

// celEnvironment is everything compiling and evaluating a match expression
// needs, built once from the Incident CRD.
type celEnvironment struct {
	env *cel.Env
	// schema is what an expression sees as `incident`; UnstructuredToVal
	// reads an incident through it, so values agree with the checked types.
	schema *schemaNode
	// structural is the same schema, as the sample incident is built from.
	structural *structuralschema.Structural
	// estimator bounds an expression's cost from the schema's maxItems and
	// maxLength, as the API server does for CRD validation rules.
	estimator *library.CostEstimator
	// assets and assetsStructural are the same for `assets`.
	assets           *schemaNode
	assetsStructural *structuralschema.Structural
}

var (
	envOnce sync.Once
	env     *celEnvironment
	envErr  error
)

func celEnv() (*celEnvironment, error) {
	envOnce.Do(func() {
		env, envErr = newCELEnvironment()
		if envErr != nil {
			envErr = fmt.Errorf("building the CEL environment from %s: %w", incidentCRD, envErr)
		}
	})
	return env, envErr
}

func newCELEnvironment() (*celEnvironment, error) {
	s, err := incidentSchema()
	if err != nil {
		return nil, err
	}
	// Expressions never name the type, so its name (and those derived from
	// it for nested objects) only has to read well in messages such as
	// "no matching overload for '_==_' applied to '(Incident.spec.impact,
	// int)'". Capitalised, it cannot be taken for the variable `incident`.
	declType := model.SchemaDeclType(s, false).MaybeAssignTypeName("Incident")
	a, err := assetsSchema()
	if err != nil {
		return nil, err
	}
	assetsType := model.SchemaDeclType(a, false).MaybeAssignTypeName("Assets")
	// The API server's own library set, at the version it accepts for new
	// expressions: policy authors get the functions (and the limits) they
	// know from CRD validation rules.
	envSet, err := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).Extend(
		environment.VersionedOptions{
			IntroducedVersion: version.MajorMinor(1, 0),
			EnvOptions:        []cel.EnvOption{cel.Variable(incidentVar, declType.CelType()), cel.Variable(assetsVar, assetsType.CelType())},
			DeclTypes:         []*apiservercel.DeclType{declType, assetsType},
		},
	)
	if err != nil {
		return nil, err
	}
	return &celEnvironment{
		env:              envSet.NewExpressionsEnv(),
		schema:           newSchemaNode(s),
		structural:       s,
		estimator:        &library.CostEstimator{SizeEstimator: &sizeEstimator{roots: map[string]*apiservercel.DeclType{incidentVar: declType, assetsVar: assetsType}}},
		assets:           newSchemaNode(a),
		assetsStructural: a,
	}, nil
}

// incidentSchema is the structural schema of `incident`: the Incident CRD's
// spec as generated, and the metadata people route on.
//
// Status is left out on purpose. Routing runs when an incident is reported,
// before the operator has written any status, and the status it then writes
// (phase, the matched policies) is the result of routing: an expression on
// status would see one incident at its first routing and another one later.
func incidentSchema() (*structuralschema.Structural, error) {
	props, err := crdSchema(incidentCRD)
	if err != nil {
		return nil, err
	}
	root, err := structuralschema.NewStructural(props)
	if err != nil {
		return nil, err
	}
	spec, ok := root.Properties["spec"]
	if !ok {
		return nil, fmt.Errorf("the schema has no spec")
	}
	return &structuralschema.Structural{
		Generic: structuralschema.Generic{Type: "object"},
		Properties: map[string]structuralschema.Structural{
			"metadata": metadataSchema(),
			"spec":     spec,
		},
		ValueValidation: &structuralschema.ValueValidation{Required: []string{"metadata", "spec"}},
	}, nil
}

// assetsSchema is the structural schema of `assets`: as many Assets as an
// incident may name, each with its name and the Asset CRD's spec. An
// asset's status (its state, its open incidents) is left out for the reason
// the incident's is.
func assetsSchema() (*structuralschema.Structural, error) {
	props, err := crdSchema(assetCRD)
	if err != nil {
		return nil, err
	}
	root, err := structuralschema.NewStructural(props)
	if err != nil {
		return nil, err
	}
	spec, ok := root.Properties["spec"]
	if !ok {
		return nil, fmt.Errorf("the Asset schema has no spec")
	}
	name := metadataSchema().Properties["name"]
	item := structuralschema.Structural{
		Generic: structuralschema.Generic{Type: "object"},
		Properties: map[string]structuralschema.Structural{
			"metadata": {Generic: structuralschema.Generic{Type: "object"}, Properties: map[string]structuralschema.Structural{"name": name}},
			"spec":     spec,
		},
		ValueValidation: &structuralschema.ValueValidation{Required: []string{"metadata", "spec"}},
	}
	maxAssets := int64(50) // spec.assets' maxItems
	return &structuralschema.Structural{
		Generic:         structuralschema.Generic{Type: "array"},
		Items:           &item,
		ValueValidation: &structuralschema.ValueValidation{MaxItems: &maxAssets},
	}, nil
}

// crdSchema is a CRD's OpenAPI schema, in the form the API server's schema
// packages take.
func crdSchema(file string) (*apiextensions.JSONSchemaProps, error) {
	data, err := crd.Bases.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var def apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &def); err != nil {
		return nil, err
	}
	var props *apiextensionsv1.JSONSchemaProps
	for _, v := range def.Spec.Versions {
		if v.Name == securityv1alpha1.GroupVersion.Version && v.Schema != nil {
			props = v.Schema.OpenAPIV3Schema
		}
	}
	if props == nil {
		return nil, fmt.Errorf("no %s schema", securityv1alpha1.GroupVersion.Version)
	}
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(props, &internal, nil); err != nil {
		return nil, err
	}
	return &internal, nil
}

// metadataSchema declares the ObjectMeta fields expressions may read, with
// the limits the API server enforces on them, which keep cost estimates of
// expressions over labels and annotations finite.
func metadataSchema() structuralschema.Structural {
	str := func(maxLength int64) structuralschema.Structural {
		return structuralschema.Structural{
			Generic:         structuralschema.Generic{Type: "string"},
			ValueValidation: &structuralschema.ValueValidation{MaxLength: &maxLength},
		}
	}
	stringMap := func(valueMaxLength int64) structuralschema.Structural {
		values := str(valueMaxLength)
		return structuralschema.Structural{
			Generic:              structuralschema.Generic{Type: "object"},
			AdditionalProperties: &structuralschema.StructuralOrBool{Structural: &values},
		}
	}
	return structuralschema.Structural{
		Generic: structuralschema.Generic{Type: "object"},
		Properties: map[string]structuralschema.Structural{
			"name":      str(253), // a DNS subdomain
			"namespace": str(63),  // a DNS label
			"labels":    stringMap(63),
			// All annotations of an object together hold at most 256 KiB.
			"annotations": stringMap(256 << 10),
		},
	}
}

// sizeEstimator gives the cost estimator the largest size of a list, map or
// string that `incident` can hold, from the DeclType's MaxElements: the
// schema's maxItems, maxProperties and maxLength, or what the API server's
// request size allows where the schema sets none. It follows the API
// server's estimator for CRD rules, which is not exported, except where it
// estimates less than evaluation then counts: it also knows the size of a
// map's value selected by key, of an object, and of a number (one).
type sizeEstimator struct {
	// roots are the variables' types, by name.
	roots map[string]*apiservercel.DeclType
}

func (e *sizeEstimator) EstimateSize(element checker.AstNode) *checker.SizeEstimate {
	path := element.Path()
	if len(path) == 0 {
		return nil
	}
	node := e.roots[path[0]]
	if node == nil {
		return nil
	}
	for _, name := range path[1:] {
		switch {
		case name == "@items" || name == "@values":
			node = node.ElemType
		case name == "@keys":
			node = node.KeyType
		case node.IsMap():
			// incident.metadata.labels.team: a value, by key.
			node = node.ElemType
		default:
			field, ok := node.Fields[name]
			if !ok {
				// A field named like a CEL keyword is declared escaped.
				escaped, _ := apiservercel.Escape(name)
				if field, ok = node.Fields[escaped]; !ok {
					return nil
				}
			}
			node = field.Type
		}
		if node == nil {
			return nil
		}
	}
	switch t := node.CelType(); {
	case node.IsObject():
		// Comparing two objects costs by their number of fields.
		return &checker.SizeEstimate{Min: 0, Max: uint64(len(node.Fields))}
	case node.IsList(), node.IsMap(), t.IsExactType(cel.StringType), t.IsExactType(cel.BytesType):
		return &checker.SizeEstimate{Min: 0, Max: uint64(node.MaxElements)}
	default:
		// A number, bool or timestamp counts as one element at run time.
		return &checker.SizeEstimate{Min: 1, Max: max(1, uint64(node.MaxElements))}
	}
}

func (e *sizeEstimator) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}

// schemaNode is a structural schema as UnstructuredToVal reads it.
// model.Structural builds a new map of all of an object's properties each
// time one field is read, which made routing twenty times slower than
// reading a plain map; schemaNode builds the tree once.
type schemaNode struct {
	*model.Structural
	properties map[string]common.Schema
	items      common.Schema
	additional common.SchemaOrBool
}

func newSchemaNode(s *structuralschema.Structural) *schemaNode {
	n := &schemaNode{Structural: &model.Structural{Structural: s}}
	if s.Properties != nil {
		n.properties = make(map[string]common.Schema, len(s.Properties))
		for name := range s.Properties {
			prop := s.Properties[name]
			n.properties[name] = newSchemaNode(&prop)
		}
	}
	if s.Items != nil {
		n.items = newSchemaNode(s.Items)
	}
	if a := s.AdditionalProperties; a != nil {
		values := &schemaOrBool{allows: a.Bool}
		if a.Structural != nil {
			values.schema = newSchemaNode(a.Structural)
		}
		n.additional = values
	}
	return n
}

func (n *schemaNode) Properties() map[string]common.Schema { return n.properties }
func (n *schemaNode) Items() common.Schema                 { return n.items }
func (n *schemaNode) AdditionalProperties() common.SchemaOrBool {
	return n.additional
}

type schemaOrBool struct {
	schema common.Schema
	allows bool
}

func (s *schemaOrBool) Schema() common.Schema { return s.schema }
func (s *schemaOrBool) Allows() bool          { return s.allows }
