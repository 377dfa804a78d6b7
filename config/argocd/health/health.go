// Package health carries the Argo CD health checks of the project's kinds,
// one Lua script a kind (Argo CD has no Lua health for custom resources of
// its own, and does not read kstatus conditions), and runs them the way
// Argo CD runs a health check from resource.customizations, so that tests
// can judge the objects the operator writes.
package health

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Scripts holds <kind>.lua, lower case, for every kind in Kinds.
//
//go:embed *.lua
var Scripts embed.FS

// Group is the API group the scripts are for.
const Group = "security.incidentops.io"

// Kinds are the kinds with a health check.
var Kinds = []string{
	"Asset", "AuditBatch", "AuditTrail", "ClusterEscalationPolicy", "Department", "EscalationPolicy",
	"Evidence", "Filing", "Incident", "IncidentReport", "PolicyTest", "RegulatoryRegime",
}

// Script is the health check of a kind.
func Script(kind string) (string, error) {
	b, err := Scripts.ReadFile(strings.ToLower(kind) + ".lua")
	return string(b), err
}

// ConfigMapKey is the key of argocd-cm that holds a kind's health check.
func ConfigMapKey(kind string) string {
	return "resource.customizations.health." + Group + "_" + kind
}

// Status is what a health check returns: Argo CD's hs.status and
// hs.message.
type Status struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// validStatuses are the health statuses Argo CD accepts from a script;
// anything else it shows as Unknown.
var validStatuses = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

// Evaluate runs a health check on obj (an object as the API server returns
// it, decoded into maps with int64 numbers, as Argo CD holds it) in a Lua
// state set up as Argo CD sets one up for a script of resource
// customizations: only the base, package and table libraries (no string or
// os functions), obj as a global, and one second to finish.
func Evaluate(script string, obj map[string]any) (Status, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return Status{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return Status{}, err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return Status{}, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	var s Status
	if field, ok := table.RawGetString("status").(lua.LString); ok {
		s.Status = string(field)
	}
	if field, ok := table.RawGetString("message").(lua.LString); ok {
		s.Message = string(field)
	}
	if !validStatuses[s.Status] {
		return Status{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return s, nil
}

// toLua converts a decoded object as Argo CD's decodeValue does.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case json.Number:
		return lua.LString(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for key, item := range v {
			t.RawSetH(lua.LString(key), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}
