package policytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/apischema"
	"github.com/incidentops/incident-operator/internal/policycheck"
)

// CaseFile is a case file read from Path.
type CaseFile struct {
	Path string
	File
}

// Load reads policy files and case files from paths, each a file or a
// directory of .yaml and .yml files (not recursive). Every object is
// defaulted and validated as the API server would, and every policy
// checked as the operator does: what the cluster would refuse, or leave
// out of routing, is an error naming the file and the field.
func Load(paths []string) (*Objects, []CaseFile, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") && e.Name() != "kustomization.yaml" {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	schemas, err := apischema.Load()
	if err != nil {
		return nil, nil, err
	}
	objects := &Objects{}
	var cases []CaseFile
	var errs []error
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		docs, err := apischema.Decode(bytes.NewReader(data))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		for _, doc := range docs {
			if doc.GetKind() == KindPolicyTest {
				f, err := decodeCases(schemas, doc)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", path, err))
					continue
				}
				cases = append(cases, CaseFile{Path: path, File: *f})
				continue
			}
			if err := objects.add(schemas, doc); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", path, err))
			}
		}
	}
	return objects, cases, errors.Join(errs...)
}

// add admits one object and keeps it, typed, when it is one routing reads.
func (o *Objects) add(schemas *apischema.Schemas, doc *unstructured.Unstructured) error {
	what := doc.GetKind() + " " + doc.GetName()
	if doc.GroupVersionKind().Group != securityv1alpha1.GroupVersion.Group {
		// Secrets, Namespaces and the like are not what routing reads.
		return nil
	}
	if err := admit(schemas, doc); err != nil {
		return err
	}
	var target any
	switch doc.GetKind() {
	case "EscalationPolicy":
		p := &securityv1alpha1.EscalationPolicy{}
		o.Policies, target = append(o.Policies, p), p
	case "ClusterEscalationPolicy":
		p := &securityv1alpha1.ClusterEscalationPolicy{}
		o.ClusterPolicies, target = append(o.ClusterPolicies, p), p
	case "Asset":
		a := &securityv1alpha1.Asset{}
		o.Assets, target = append(o.Assets, a), a
	case "Department":
		d := &securityv1alpha1.Department{}
		o.Departments, target = append(o.Departments, d), d
	default:
		return nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(doc.Object, target); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if obj, ok := target.(interface{ SetGeneration(int64) }); ok {
		obj.SetGeneration(1)
	}
	// What the operator would leave out of routing fails too.
	policy, ok := target.(*securityv1alpha1.EscalationPolicy)
	if cluster, isCluster := target.(*securityv1alpha1.ClusterEscalationPolicy); isCluster {
		policy, ok = cluster.AsEscalationPolicy(), true
	}
	if ok {
		if reason, _ := policycheck.Verdict(policy, Environment()); reason != "" {
			return fmt.Errorf("%s would not route incidents: %s", what, reason)
		}
	}
	return nil
}

// admit defaults and validates doc as the API server would on create,
// with kubectl's strict field validation: an unknown field is refused,
// not dropped.
func admit(schemas *apischema.Schemas, doc *unstructured.Unstructured) error {
	errs, pruned := schemas.Admit(doc)
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	for _, field := range pruned {
		lines = append(lines, field+": unknown field")
	}
	if len(lines) > 0 {
		return fmt.Errorf("%s %s would be refused by the API server: %s", doc.GetKind(), doc.GetName(), strings.Join(lines, "; "))
	}
	return nil
}

// decodeCases admits a PolicyTest as the API server would: a field it
// does not know is an error, not a check silently skipped.
func decodeCases(schemas *apischema.Schemas, doc *unstructured.Unstructured) (*File, error) {
	if err := admit(schemas, doc); err != nil {
		return nil, err
	}
	f := &File{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(doc.Object, f); err != nil {
		return nil, fmt.Errorf("PolicyTest %s: %w", doc.GetName(), err)
	}
	if len(f.Spec.Cases)+len(f.Spec.Invariants) == 0 {
		return nil, fmt.Errorf("PolicyTest %s: spec: give at least one case or invariant", doc.GetName())
	}
	for i := range f.Spec.Invariants {
		if err := checkInvariant(&f.Spec.Invariants[i], i); err != nil {
			return nil, fmt.Errorf("PolicyTest %s: %w", doc.GetName(), err)
		}
	}
	names := map[string]bool{}
	for i := range f.Spec.Cases {
		c := &f.Spec.Cases[i]
		if err := checkCase(c, i); err != nil {
			return nil, fmt.Errorf("PolicyTest %s: %w", doc.GetName(), err)
		}
		if names[c.Name] {
			return nil, fmt.Errorf("PolicyTest %s: spec.cases[%d].name: %q is used twice", doc.GetName(), i, c.Name)
		}
		names[c.Name] = true
	}
	return f, nil
}

// Result is the outcome of one case.
type Result struct {
	File string
	Case *Case
	Run  *Run
	// Err is why the case could not be run.
	Err error
	// Differences are what it expected and did not happen.
	Differences []string
}

// Passed is true when the case ran and met every expectation.
func (r *Result) Passed() bool { return r.Err == nil && len(r.Differences) == 0 }

// RunAll runs every case of the files.
func RunAll(ctx context.Context, objects *Objects, files []CaseFile) []Result {
	var out []Result
	for _, f := range files {
		for i := range f.Spec.Cases {
			c := &f.Spec.Cases[i]
			res := Result{File: f.Path, Case: c}
			res.Run, res.Err = Simulate(ctx, objects, c)
			if res.Err == nil {
				res.Differences = res.Run.Differences()
			}
			out = append(out, res)
		}
	}
	return out
}

// GoldenPath is where the timelines of a case file are kept: beside it,
// as name.timeline.
func GoldenPath(caseFile string) string {
	return strings.TrimSuffix(caseFile, filepath.Ext(caseFile)) + ".timeline"
}

// Timelines are the timelines of the results of one case file, joined.
func Timelines(results []Result, caseFile string) string {
	var parts []string
	for _, r := range results {
		if r.File == caseFile && r.Run != nil {
			parts = append(parts, r.Run.Timeline())
		}
	}
	return strings.Join(parts, "\n")
}

// CheckGolden compares each case file's timelines with the kept ones, when
// there are any, and adds a difference to the first result of a file
// whose timelines changed. update writes them instead.
func CheckGolden(results []Result, update bool) error {
	var paths []string
	for _, r := range results {
		if !slices.Contains(paths, r.File) {
			paths = append(paths, r.File)
		}
	}
	for _, path := range paths {
		got := Timelines(results, path)
		golden := GoldenPath(path)
		if update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				return err
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if string(want) == got {
			continue
		}
		i := slices.IndexFunc(results, func(r Result) bool { return r.File == path })
		results[i].Differences = append(results[i].Differences,
			fmt.Sprintf("the timelines differ from %s (run with --update to accept them):\n%s", golden, lineDiff(string(want), got)))
	}
	return nil
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "  - "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "  + "+l)
		}
	}
	return strings.Join(out, "\n")
}

// Invariants are the invariants of the files, and the file of each.
func Invariants(files []CaseFile) ([]Invariant, []string) {
	var out []Invariant
	var from []string
	for _, f := range files {
		for _, inv := range f.Spec.Invariants {
			out = append(out, inv)
			from = append(from, f.Path)
		}
	}
	return out, from
}
