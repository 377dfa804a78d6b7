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
		"bool":           {source: `incident.spec.severity in ["High", "Critical"]`},
		"dyn field":      {source: `incident.spec.impact.personalData`},
		"syntax error":   {source: `incident.spec.(`, wantErr: "Syntax error"},
		"unknown var":    {source: `ticket.severity == "High"`, wantErr: "undeclared reference to 'ticket'"},
		"not a bool":     {source: `"High"`, wantErr: "must evaluate to a bool"},
		"int arithmetic": {source: `1 + 2`, wantErr: "must evaluate to a bool"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := CompileExpression(tc.source)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestExpressionResultMustBeBool(t *testing.T) {
	x, err := CompileExpression(`incident.spec.title`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Matches(map[string]any{"spec": map[string]any{"title": "x"}}); err == nil || !strings.Contains(err.Error(), "not a bool") {
		t.Fatalf("got %v, want an error saying the result is not a bool", err)
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
	c.Forget(key)
	if len(c.entries) != 0 {
		t.Error("Forget left the entry")
	}
}
