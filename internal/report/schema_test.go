package report

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// markers are the kubebuilder markers in a file of the API, by type
// ("Severity") and by field ("IncidentSpec.Title"), each as name → value.
func markers(t *testing.T, file string) map[string]map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "api", "v1alpha1", file), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	add := func(key string, doc *ast.CommentGroup) {
		if doc == nil {
			return
		}
		for _, c := range doc.List {
			line, ok := strings.CutPrefix(c.Text, "// +kubebuilder:validation:")
			if !ok {
				continue
			}
			name, value, _ := strings.Cut(line, "=")
			if out[key] == nil {
				out[key] = map[string]string{}
			}
			out[key][name] = value
		}
	}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, spec := range gen.Specs {
			ts := spec.(*ast.TypeSpec)
			add(ts.Name.Name, gen.Doc)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				for _, name := range field.Names {
					add(ts.Name.Name+"."+name.Name, field.Doc)
				}
			}
		}
	}
	return out
}

// The values and limits the import checks are the CRD's: if a marker in
// api/v1alpha1 changes, this fails until schema.go follows.
func TestSchemaMatchesMarkers(t *testing.T) {
	all := markers(t, "incident_types.go")
	for key, m := range markers(t, "common_types.go") {
		all[key] = m
	}
	tests := map[string]struct {
		key, marker, want string
	}{
		"types":                {"IncidentType", "Enum", joinedBy(Types, ";")},
		"categories":           {"IncidentCategory", "Enum", joinedBy(Categories, ";")},
		"severities":           {"Severity", "Enum", joinedBy(Severities, ";")},
		"resolution states":    {"ResolutionState", "Enum", joinedBy(ResolutionStates, ";")},
		"title":                {"IncidentSpec.Title", "MaxLength", strconv.Itoa(maxTitle)},
		"description":          {"IncidentSpec.Description", "MaxLength", strconv.Itoa(maxDescription)},
		"assets":               {"IncidentSpec.Assets", "MaxItems", strconv.Itoa(maxAssets)},
		"asset name length":    {"IncidentSpec.Assets", "items:MaxLength", strconv.Itoa(maxAssetName)},
		"asset name pattern":   {"IncidentSpec.Assets", "items:Pattern", "`" + assetNamePattern + "`"},
		"contact name":         {"Contact.Name", "MaxLength", strconv.Itoa(maxName)},
		"contact email":        {"Contact.Email", "MaxLength", strconv.Itoa(maxEmail)},
		"contact email format": {"Contact.Email", "Pattern", "`" + emailPattern + "`"},
		"department":           {"Reporter.Department", "MaxLength", strconv.Itoa(maxName)},
		"acknowledged by":      {"Acknowledgement.By", "MaxLength", strconv.Itoa(maxName)},
		"resolved by":          {"Resolution.By", "MaxLength", strconv.Itoa(maxName)},
		"resolution summary":   {"Resolution.Summary", "MaxLength", strconv.Itoa(maxSummary)},
		"authority reference":  {"AuthorityNotification.Reference", "MaxLength", strconv.Itoa(maxReference)},
		"delay reason":         {"AuthorityNotification.DelayReason", "MaxLength", strconv.Itoa(maxDelayReason)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := all[tc.key][tc.marker]
			if !ok {
				t.Fatalf("%s has no +kubebuilder:validation:%s marker", tc.key, tc.marker)
			}
			if got != tc.want {
				t.Errorf("%s %s = %s, this package has %s", tc.key, tc.marker, got, tc.want)
			}
		})
	}
	// The title must have a visible character: the same class as the
	// CEL rule, whose string escapes its backslashes.
	rule := all["IncidentSpec.Title"]["XValidation:rule"]
	if want := strings.ReplaceAll(titlePattern, `\`, `\\`); !strings.Contains(rule, want) {
		t.Errorf("the title's rule %s does not hold %s", rule, want)
	}
}

func joinedBy[T ~string](values []T, sep string) string {
	return strings.ReplaceAll(joined(values), ", ", sep)
}
