package routing

import (
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	k8stypes "k8s.io/apimachinery/pkg/types"
)

// costLimit bounds the work one expression may do on one incident, so that a
// pathological expression cannot stall routing for everyone else.
const costLimit = 1_000_000

// maxEstimatedCost is the most an expression may cost on the largest
// incident the schema allows. It equals costLimit, so an expression that
// compiles is never stopped by costLimit part-way through routing: it is
// refused when the policy is applied, not when a large incident arrives.
const maxEstimatedCost = costLimit

// Expression is a compiled CEL match expression. It is safe for concurrent use.
type Expression struct {
	source  string
	ast     *cel.Ast
	program cel.Program
	// maxCost is the estimated cost on the largest incident the schema allows.
	maxCost uint64
}

// CompileExpression compiles a match expression over the variable
// `incident`: its metadata.name, metadata.namespace, metadata.labels and
// metadata.annotations, and its spec, typed by the Incident CRD's schema,
// with the API server's CEL libraries. A type error, a field the schema
// does not have, a result that is not a bool, or a worst-case cost over the
// limit is refused here. The error is the compiler's own message, meant for
// people.
func CompileExpression(source string) (*Expression, error) {
	e, err := celEnv()
	if err != nil {
		return nil, err
	}
	ast, issues := e.env.Compile(source)
	if issues != nil && issues.Err() != nil {
		return nil, issues.Err()
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("expression must evaluate to a bool, not %s", out)
	}
	cost, err := e.env.EstimateCost(ast, e.estimator)
	if err != nil {
		return nil, fmt.Errorf("estimating the expression's cost: %w", err)
	}
	if cost.Max > maxEstimatedCost {
		return nil, fmt.Errorf("expression's worst-case cost %d is over the limit of %d: "+
			"on the largest incident the API server accepts it would be stopped part-way; "+
			"look labels and annotations up by key rather than looping over them, and avoid nested loops",
			cost.Max, maxEstimatedCost)
	}
	program, err := e.env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, err
	}
	return &Expression{source: source, ast: ast, program: program, maxCost: cost.Max}, nil
}

// Matches evaluates the expression against an incident in its unstructured
// form. A missing field or a result that is not a bool is an error.
func (x *Expression) Matches(incident map[string]any) (bool, error) {
	vars, err := unstructuredActivation(incident)
	if err != nil {
		return false, err
	}
	return x.matches(vars)
}

// matches evaluates the expression on prepared variables, so that routing
// one incident through many expressions converts it once.
func (x *Expression) matches(vars cel.Activation) (bool, error) {
	out, _, err := x.program.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(celtypes.Bool)
	if !ok {
		return false, fmt.Errorf("expression evaluated to %s, not a bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// ExpressionCache holds one compiled expression per policy generation, so an
// expression is compiled once however many incidents it is evaluated on.
type ExpressionCache struct {
	mu      sync.Mutex
	entries map[k8stypes.NamespacedName]cachedExpression
}

type cachedExpression struct {
	generation int64
	source     string
	expr       *Expression
	err        error
}

// NewExpressionCache returns an empty cache.
func NewExpressionCache() *ExpressionCache {
	return &ExpressionCache{entries: map[k8stypes.NamespacedName]cachedExpression{}}
}

// Get returns the compiled expression of a policy at a generation, compiling
// it on first use. A policy without an expression yields nil and no error.
func (c *ExpressionCache) Get(policy k8stypes.NamespacedName, generation int64, source string) (*Expression, error) {
	if source == "" {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[policy]; ok && e.generation == generation && e.source == source {
		return e.expr, e.err
	}
	expr, err := CompileExpression(source)
	c.entries[policy] = cachedExpression{generation: generation, source: source, expr: expr, err: err}
	return expr, err
}

// Forget drops a deleted policy's expression.
func (c *ExpressionCache) Forget(policy k8stypes.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, policy)
}
