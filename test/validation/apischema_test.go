package validation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/incidentops/incident-operator/internal/apischema"
)

// A schemaVerdict is what the API server and apischema said of one case.
type schemaVerdict struct {
	c badCase
	// server is the API server's error, nil when it accepted the case.
	server error
	// offline are apischema's errors.
	offline field.ErrorList
	// excluded says why the two may rightly differ, when they do.
	excluded string
}

// byAdmissionPolicy is the class of create cases on which apischema, which
// knows the CRD schemas alone, rightly differs from the API server: the
// server also runs the ValidatingAdmissionPolicies of config/admission,
// which refuse some objects the schema lets through. They run after the
// schema, so only on objects it accepts.
const byAdmissionPolicy = "refused by a ValidatingAdmissionPolicy"

// TestAPISchemaAgreesWithTheAPIServer tries every create case of the sweep
// on the API server, as a dry run, and with apischema: apischema must
// refuse exactly the cases the server refuses, with the errors the server
// gives, so that `kubectl incident test` can be trusted to say
// what `kubectl apply` would.
func TestAPISchemaAgreesWithTheAPIServer(t *testing.T) {
	start := time.Now()
	schemas, err := apischema.Load()
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := loadKinds()
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "validation-apischema")
	kinds["AuditTrail"].bases = []map[string]any{auditTrailBase(t, ns)}
	kinds["AuditBatch"].bases = []map[string]any{auditBatchBase(t)}
	kinds["Filing"].bases = []map[string]any{filingBase(kinds)}
	all, _ := deriveCases(kinds, start)
	var cases []badCase
	for _, c := range all {
		if c.update == nil {
			cases = append(cases, c)
		}
	}
	derived := len(cases)
	for _, name := range sortedKeys(kinds) {
		for _, base := range kinds[name].bases {
			cases = append(cases, badCase{kind: name, name: fmt.Sprintf("%s %v (the sample)", name, base["metadata"].(map[string]any)["name"]), object: base})
		}
	}

	verdicts := make([]schemaVerdict, len(cases))
	parallel(len(cases), sweepConcurrency, func(i int) {
		c := cases[i]
		obj := object(kinds[c.kind], c.object, ns, fmt.Sprintf("case-%04d", i))
		v := schemaVerdict{c: c}
		v.server = k8sClient.Create(context.Background(), obj.DeepCopy(), client.DryRunAll)
		// apischema reads the object as the server does, from the JSON
		// the client sends: the cases hold whole numbers as float64.
		data, err := json.Marshal(obj)
		var read []*unstructured.Unstructured
		if err == nil {
			read, err = apischema.Decode(bytes.NewReader(data))
		}
		if err != nil {
			v.offline = field.ErrorList{field.InternalError(nil, err)}
		} else {
			v.offline, _ = schemas.Admit(read[0])
		}
		verdicts[i] = v
	})

	var agree int
	excluded := map[string]int{}
	for i := range verdicts {
		v := &verdicts[i]
		switch problem := v.disagreement(); {
		case problem == "":
			agree++
		case v.excluded != "":
			excluded[v.excluded]++
		default:
			t.Errorf("%s: %s\n    API server: %v\n    apischema:  %v", v.c.name, problem, v.server, v.offline.ToAggregate())
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\napischema against the API server: the %d create cases of the sweep and its %d samples in %s\n\n",
		derived, len(cases)-derived, time.Since(start).Round(100*time.Millisecond))
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "same verdict, same errors word for word\t%d\t\n", agree)
	for _, class := range sortedKeys(excluded) {
		fmt.Fprintf(w, "excluded: %s\t%d\t\n", class, excluded[class])
	}
	fmt.Fprintf(w, "different\t%d\t\n", len(cases)-agree-sum(excluded))
	_ = w.Flush()
	fmt.Fprint(os.Stdout, b.String())
	if file := os.Getenv("APISCHEMA_REPORT"); file != "" {
		writeSchemaVerdicts(t, file, verdicts)
	}
	if derived < minCases {
		t.Errorf("%d cases compared, want at least %d", derived, minCases)
	}
}

// disagreement says how apischema's answer differs from the server's, or
// is empty when they agree: both accept, or both refuse with the same
// errors. It sets excluded when the difference is of a class the schema
// cannot answer for.
func (v *schemaVerdict) disagreement() string {
	switch serverRefused, offlineRefused := v.server != nil, len(v.offline) > 0; {
	case serverRefused && !offlineRefused:
		if strings.Contains(v.server.Error(), "ValidatingAdmissionPolicy") {
			v.excluded = byAdmissionPolicy
		}
		return "the API server refuses, apischema admits"
	case !serverRefused && offlineRefused:
		return "the API server admits, apischema refuses"
	case serverRefused && !slices.Equal(serverCauses(v.server), offlineCauses(v.offline)):
		return "the errors differ"
	}
	return ""
}

// serverCauses are the causes of an API error as "field: message", sorted,
// or its whole message when it has none.
func serverCauses(err error) []string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 {
		return []string{err.Error()}
	}
	var out []string
	for _, c := range status.Status().Details.Causes {
		if s := c.Field + ": " + c.Message; !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// offlineCauses are errs as serverCauses writes the causes the API server
// makes of them.
func offlineCauses(errs field.ErrorList) []string {
	var out []string
	for _, err := range errs {
		if s := err.Field + ": " + err.ErrorBody(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// writeSchemaVerdicts writes every case whose errors differ in words, with
// both answers, one a line, for a person reading where apischema and the
// API server differ: APISCHEMA_REPORT=file.
func writeSchemaVerdicts(t *testing.T, file string, verdicts []schemaVerdict) {
	var b strings.Builder
	for _, v := range verdicts {
		server, offline := "accepted", "accepted"
		if v.server != nil {
			server = strings.Join(serverCauses(v.server), "; ")
		}
		if len(v.offline) > 0 {
			offline = strings.Join(offlineCauses(v.offline), "; ")
		}
		if server != offline {
			fmt.Fprintf(&b, "%s\n\tAPI server: %s\n\tapischema:  %s\n", v.c.name, server, offline)
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}
