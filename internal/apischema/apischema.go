// Package apischema admits an object of the project's kinds as the API
// server does when it is created: it defaults, prunes and validates the
// object from the generated CRD schemas, with the API server's own schema
// packages, and needs no cluster. It is pure: no client, no clock.
//
// It answers for the CRD schemas alone. Admission policies (config/admission)
// also refuse objects, and write fields themselves, and are not run here.
package apischema

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	celvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/operation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/storage/names"
	utilfeature "k8s.io/apiserver/pkg/util/feature"

	"github.com/incidentops/incident-operator/config/crd"
)

// Schemas are the CRD schemas of every served kind and version, prepared as
// the API server prepares them when a CRD is installed. They are safe for
// concurrent use.
type Schemas struct {
	kinds map[schema.GroupVersionKind]*kindSchema
}

// kindSchema is what the API server builds for one version of one CRD to
// serve it (apiextensions-apiserver's crdHandler.getOrCreateServingInfoFor).
type kindSchema struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	// status is true when the kind has the status subresource: a create
	// then cannot set status.
	status bool
	// structural has its defaults pruned, as the API server keeps it.
	structural *structuralschema.Structural
	openAPI    apiextensionsvalidation.SchemaValidator
	// rules are the x-kubernetes-validations rules, compiled; nil when the
	// schema has none.
	rules *celvalidation.Validator
}

// Load returns the schemas of config/crd/bases, read and compiled once.
var Load = sync.OnceValues(load)

func load() (*Schemas, error) {
	files, err := fs.Glob(crd.Bases, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	s := &Schemas{kinds: map[schema.GroupVersionKind]*kindSchema{}}
	for _, file := range files {
		data, err := crd.Bases.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var def apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &def); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, v := range def.Spec.Versions {
			if !v.Served || v.Schema == nil {
				continue
			}
			k, err := newKindSchema(&def, v)
			if err != nil {
				return nil, fmt.Errorf("%s, version %s: %w", file, v.Name, err)
			}
			s.kinds[k.gvk] = k
		}
	}
	if len(s.kinds) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinition in config/crd/bases")
	}
	return s, nil
}

func newKindSchema(def *apiextensionsv1.CustomResourceDefinition, v apiextensionsv1.CustomResourceDefinitionVersion) (*kindSchema, error) {
	var props apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &props, nil); err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(&props)
	if err != nil {
		return nil, err
	}
	// The API server does not own the defaults NewStructural shares with
	// props, so it prunes a copy's.
	structural = structural.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(structural); err != nil {
		return nil, err
	}
	openAPI, _, err := apiextensionsvalidation.NewSchemaValidator(&props)
	if err != nil {
		return nil, err
	}
	return &kindSchema{
		gvk:        schema.GroupVersionKind{Group: def.Spec.Group, Version: v.Name, Kind: def.Spec.Names.Kind},
		namespaced: def.Spec.Scope == apiextensionsv1.NamespaceScoped,
		status:     v.Subresources != nil && v.Subresources.Status != nil,
		structural: structural,
		openAPI:    openAPI,
		rules:      celvalidation.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// Admit changes obj as the API server does when the object is created, and
// returns what the server would refuse it for, named by field as the server
// names them: spec.match.severities[0]: Unsupported value: "Huge":
// supported values: ...
//
// Like the server it prunes the fields the schema does not know, fills in
// the schema's defaults, drops status and sets generation 1, then checks the
// metadata, the OpenAPI schema, list types and the x-kubernetes-validations
// rules. Transition rules, those reading oldSelf, are not run: there is no
// old object on create. pruned lists the fields pruned; the server refuses
// the object for them instead when the client asks for strict field
// validation, as kubectl does unless told --validate=warn or ignore.
//
// obj holds numbers as the API server reads them, a whole number as an
// int64, as Decode reads them. A namespaced object without a namespace is
// checked as kubectl would send it, into the namespace of its context; obj
// is left without one.
func (s *Schemas) Admit(obj *unstructured.Unstructured) (errs field.ErrorList, pruned []string) {
	k, pruned, err := s.prepare(obj)
	if err != nil {
		return field.ErrorList{err}, pruned
	}
	if k.namespaced && obj.GetNamespace() == "" {
		obj.SetNamespace(metav1.NamespaceDefault)
		defer obj.SetNamespace("")
	}
	return k.validate(obj), pruned
}

// prepare changes obj as the API server does on create before it validates
// the object: it decodes, defaults, and does what the create handler and
// rest.BeforeCreate do. It returns the schema of obj's kind and the fields
// it pruned.
func (s *Schemas) prepare(obj *unstructured.Unstructured) (*kindSchema, []string, *field.Error) {
	k, err := s.kindOf(obj)
	if err != nil {
		return nil, nil, err
	}
	pruned, err := k.decode(obj)
	if err != nil {
		return nil, pruned, err
	}
	structuraldefaulting.Default(obj.Object, k.structural)
	if !k.namespaced {
		obj.SetNamespace(metav1.NamespaceNone)
	}
	if obj.GetName() == "" && obj.GetGenerateName() != "" {
		obj.SetName(names.SimpleNameGenerator.GenerateName(obj.GetGenerateName()))
	}
	if k.status {
		delete(obj.Object, "status")
	}
	obj.SetGeneration(1)
	return k, pruned, nil
}

// kindOf is the schema of obj's kind and version.
func (s *Schemas) kindOf(obj *unstructured.Unstructured) (*kindSchema, *field.Error) {
	gvk := obj.GroupVersionKind()
	if k, ok := s.kinds[gvk]; ok {
		return k, nil
	}
	var kinds, versions []string
	for known := range s.kinds {
		if known.Group == gvk.Group {
			kinds = append(kinds, known.Kind)
		}
		if known.GroupKind() == gvk.GroupKind() {
			versions = append(versions, known.GroupVersion().String())
		}
	}
	slices.Sort(kinds)
	slices.Sort(versions)
	switch {
	case len(versions) > 0:
		return nil, field.NotSupported(field.NewPath("apiVersion"), obj.GetAPIVersion(), versions)
	case len(kinds) > 0:
		return nil, field.NotSupported(field.NewPath("kind"), obj.GetKind(), kinds)
	}
	var groups []string
	for known := range s.kinds {
		if v := known.GroupVersion().String(); !slices.Contains(groups, v) {
			groups = append(groups, v)
		}
	}
	slices.Sort(groups)
	return nil, field.NotSupported(field.NewPath("apiVersion"), obj.GetAPIVersion(), groups)
}

// decode does what the API server's decoder for custom resources adds to
// reading JSON (apiextensions-apiserver's unstructuredSchemaCoercer, which
// is not exported): it reads metadata as ObjectMeta, prunes unknown fields
// and nulls where the schema allows none, and coerces the metadata of
// embedded objects. It returns the paths it pruned.
func (k *kindSchema) decode(obj *unstructured.Unstructured) ([]string, *field.Error) {
	kind, apiVersion := obj.GetKind(), obj.GetAPIVersion()
	meta, found, pruned, err := schemaobjectmeta.GetObjectMetaWithOptions(obj.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return pruned, field.Invalid(field.NewPath("metadata"), field.OmitValueType{}, err.Error())
	}
	pruned = append(pruned, structuralpruning.PruneWithOptions(obj.Object, k.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj.Object, k.structural)
	ferr, embedded := schemaobjectmeta.CoerceWithOptions(nil, obj.Object, k.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	pruned = append(pruned, embedded...)
	if ferr != nil {
		return pruned, ferr
	}
	obj.SetKind(kind)
	obj.SetAPIVersion(apiVersion)
	if found {
		if err := schemaobjectmeta.SetObjectMeta(obj.Object, meta); err != nil {
			return pruned, field.Invalid(field.NewPath("metadata"), field.OmitValueType{}, err.Error())
		}
	}
	return pruned, nil
}

// validate checks obj as the API server's strategy for custom resources
// does on create (apiextensions-apiserver's customResourceStrategy.Validate
// and customResourceValidator.Validate). That package also holds the
// resource's etcd storage; calling these steps, rather than it, keeps the
// etcd client out of the programs that use this one. The steps it skips
// can refuse nothing here: kind and apiVersion match the schema they
// chose, no kind has the scale subresource, and a name that is a DNS
// subdomain passes the path-segment check that rest.ValidateCreate adds.
func (k *kindSchema) validate(obj *unstructured.Unstructured) field.ErrorList {
	ctx := context.Background()
	var errs field.ErrorList
	meta := &metav1.ObjectMeta{}
	if raw, ok := obj.Object["metadata"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, meta); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("metadata"), raw, err.Error()))
		}
	}
	if len(errs) == 0 {
		errs = metavalidation.ValidateObjectMetaDeclaratively(ctx, operation.Create, meta, nil, k.namespaced, metavalidation.NameIsDNSSubdomain,
			field.NewPath("metadata"), utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta))
	}
	errs = append(errs, apiextensionsvalidation.ValidateCustomResource(nil, obj.Object, k.openAPI)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, obj.Object, k.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, k.structural, obj.Object)...)
	if k.rules == nil {
		return errs
	}
	if blocking(errs) {
		return append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	}
	ruleErrs, _ := k.rules.Validate(ctx, nil, k.structural, obj.Object, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, ruleErrs...)
}

// blocking is true when errs hold an error after which the API server does
// not run the validation rules, for fear that they fail on a value of the
// wrong type or cost more than an object within its limits can.
func blocking(errs field.ErrorList) bool {
	return slices.ContainsFunc(errs, func(err *field.Error) bool {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
		return false
	})
}
