package routing

import (
	"strings"
	"testing"

	k8stypes "k8s.io/apimachinery/pkg/types"
)

func TestCompileExpression(t *testing.T) {
	cases := map[string]struct {
		source  string
		wantErr string
	}{
		"bool":                  {source: `incident.spec.severity in ["High", "Critical"]`},
		"typed bool field":      {source: `incident.spec.impact.personalData`},
		"optional field":        {source: `incident.spec.impact.?personalData.orValue(false)`},
		"int field":             {source: `incident.spec.impact.dataSubjects > 100`},
		"timestamp field":       {source: `incident.spec.awareAt > timestamp("2026-01-01T00:00:00Z")`},
		"label":                 {source: `incident.metadata.labels.department == "finance"`},
		"keyword as field name": {source: `incident.metadata.namespace == "council"`},
		"annotation":            {source: `"council.example/owner" in incident.metadata.annotations`},
		"loop over a bounded list": {
			source: `incident.spec.assets.exists(a, a.startsWith("fin-"))`,
		},
		"library function": {source: `incident.spec.title.lowerAscii().contains("laptop")`},
		"syntax error":     {source: `incident.spec.(`, wantErr: "Syntax error"},
		"unknown var":      {source: `ticket.severity == "High"`, wantErr: "undeclared reference to 'ticket'"},
		"int vs string": {
			source:  `incident.spec.impact.dataSubjects > '100'`,
			wantErr: "found no matching overload for '_>_' applied to '(int, string)'",
		},
		"string vs int": {
			source:  `incident.spec.severity == 3`,
			wantErr: "found no matching overload for '_==_' applied to '(string, int)'",
		},
		"object vs int": {
			source:  `incident.spec.impact == 1`,
			wantErr: "applied to '(Incident.spec.impact, int)'",
		},
		"unknown field":          {source: `incident.spec.nosuch == "x"`, wantErr: "undefined field 'nosuch'"},
		"unknown nested field":   {source: `incident.spec.impact.records > 1`, wantErr: "undefined field 'records'"},
		"status is not visible":  {source: `incident.status.phase == "Open"`, wantErr: "undefined field 'status'"},
		"undeclared metadata":    {source: `has(incident.metadata.uid)`, wantErr: "undefined field 'uid'"},
		"not a bool":             {source: `"High"`, wantErr: "must evaluate to a bool, not string"},
		"field is not a bool":    {source: `incident.spec.title`, wantErr: "must evaluate to a bool, not string"},
		"int arithmetic":         {source: `1 + 2`, wantErr: "must evaluate to a bool, not int"},
		"dyn is not a bool":      {source: `dyn(incident.spec.title)`, wantErr: "must evaluate to a bool, not dyn"},
		"mixed list literal":     {source: `incident.spec.severity in ["High", 1]`, wantErr: "expected type 'string' but found 'int'"},
		"loop over labels costs": {source: `incident.metadata.labels.exists(k, k == "team")`, wantErr: "worst-case cost"},
		"nested loops over annotations cost": {
			source:  `incident.metadata.annotations.exists(k, incident.metadata.annotations[k].contains("x"))`,
			wantErr: "over the limit of 1000000",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := CompileExpression(tc.source)
			checkError(t, err, tc.wantErr)
		})
	}
}

// checkError fails the test unless err is nil when want is empty, or
// contains want.
func checkError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

func TestCostEstimateUsesTheSchemaBounds(t *testing.T) {
	// assets has maxItems 50, description maxLength 10000: both bounded, so
	// their costs are small and grow with the bound, not with a guess.
	one, err := CompileExpression(`incident.spec.assets.exists(a, a == "x")`)
	if err != nil {
		t.Fatal(err)
	}
	nested, err := CompileExpression(`incident.spec.assets.exists(a, incident.spec.assets.exists(b, a == b + "x"))`)
	if err != nil {
		t.Fatal(err)
	}
	if one.maxCost == 0 || nested.maxCost < 40*one.maxCost {
		t.Errorf("a loop costs %d and a loop in a loop %d; want the nested one at least 40 times more (50 items)", one.maxCost, nested.maxCost)
	}
	if nested.maxCost > maxEstimatedCost {
		t.Errorf("nested loop over 50 assets estimated at %d, over the limit", nested.maxCost)
	}
	// namespace is a CEL keyword, declared under an escaped name; its
	// bound (63) must still be found.
	namespace, err := CompileExpression(`incident.metadata.namespace.contains("council")`)
	if err != nil {
		t.Fatal(err)
	}
	if namespace.maxCost > 100 {
		t.Errorf("searching the namespace estimated at %d, as if it had no maximum length", namespace.maxCost)
	}
}

func TestExpressionCacheCompilesOncePerGeneration(t *testing.T) {
	c := NewExpressionCache()
	key := k8stypes.NamespacedName{Namespace: "council", Name: "audit"}
	first, err := c.Get(key, 1, "true")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.Get(key, 1, "true")
	if first != again {
		t.Error("same generation compiled twice")
	}
	next, _ := c.Get(key, 2, "false")
	if next == first {
		t.Error("new generation served the old program")
	}
	if ok, _ := next.Matches(map[string]any{}); ok {
		t.Error("generation 2 program evaluates like generation 1")
	}
	if x, err := c.Get(key, 3, ""); x != nil || err != nil {
		t.Errorf("empty expression gave %v, %v; want nil, nil", x, err)
	}
	if _, err := c.Get(key, 4, `incident.spec.impact.dataSubjects > "100"`); err == nil {
		t.Error("a type error was cached as a program")
	}
	c.Forget(key)
	if len(c.entries) != 0 {
		t.Error("Forget left the entry")
	}
}
