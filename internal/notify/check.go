package notify

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"text/template/parse"
)

// maxTemplateNodes bounds the parts a template parses into: pieces of text,
// actions and their arguments. The default body has about 200.
const maxTemplateNodes = 1000

var (
	messageType = reflect.TypeFor[templateData]()
	stringType  = reflect.TypeFor[string]()
	stringsType = reflect.TypeFor[[]string]()
	intType     = reflect.TypeFor[int]()
	boolType    = reflect.TypeFor[bool]()
)

// checkTree refuses what could make a template slow to render, and fields
// that a Message does not have. It walks the parse tree knowing, as far as it
// can, the type of dot and of each variable, and refuses a range over
// anything it cannot show to be a list. It also makes each range charge the
// render's budget (meterRange), so it must run once, before any render.
func checkTree(tree *parse.Tree, src string) error {
	c := &checker{src: src, assigned: map[string]bool{}}
	nodes := 0
	eachNode(tree.Root, func(n parse.Node) {
		nodes++
		switch n := n.(type) {
		case *parse.PipeNode:
			if n.IsAssign {
				for _, v := range n.Decl {
					c.assigned[v.Ident[0]] = true
				}
			}
		case *parse.TemplateNode:
			c.problem(n, "it calls another template ({{template}} or {{block}}); a title or body must be a single template")
		}
	})
	if nodes > maxTemplateNodes {
		return fmt.Errorf("it has %d parts (pieces of text, actions and their arguments); at most %d are allowed", nodes, maxTemplateNodes)
	}
	if len(c.problems) == 0 {
		c.scopes = []map[string]reflect.Type{{"$": messageType}}
		c.list(tree, tree.Root, messageType, 0)
	}
	if len(c.problems) == 0 {
		return nil
	}
	const most = 5
	if n := len(c.problems); n > most {
		c.problems = append(c.problems[:most], fmt.Sprintf("and %d more problems", n-most))
	}
	return errors.New(strings.Join(c.problems, "; "))
}

// checker knows the types of dot and of the variables in scope. A nil type
// is one it cannot know.
type checker struct {
	src string
	// assigned are the variables given a new value with = somewhere; their
	// type may change from one loop iteration to the next.
	assigned map[string]bool
	scopes   []map[string]reflect.Type
	problems []string
}

func (c *checker) problem(n parse.Node, format string, args ...any) {
	line := 1 + strings.Count(c.src[:min(int(n.Position()), len(c.src))], "\n")
	c.problems = append(c.problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
}

func (c *checker) list(tree *parse.Tree, l *parse.ListNode, dot reflect.Type, depth int) {
	if l == nil {
		return
	}
	c.scopes = append(c.scopes, map[string]reflect.Type{})
	defer func() { c.scopes = c.scopes[:len(c.scopes)-1] }()
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			c.declare(n.Pipe, c.pipe(n.Pipe, dot))
		case *parse.IfNode:
			c.branch(tree, &n.BranchNode, dot, false, depth)
		case *parse.WithNode:
			c.branch(tree, &n.BranchNode, dot, true, depth)
		case *parse.RangeNode:
			c.rangeNode(tree, n, dot, depth)
		}
		// Text, break and continue need no check; template calls are
		// refused before the walk.
	}
}

// branch checks an if or a with, whose variables last to its end.
func (c *checker) branch(tree *parse.Tree, b *parse.BranchNode, dot reflect.Type, with bool, depth int) {
	c.scopes = append(c.scopes, map[string]reflect.Type{})
	defer func() { c.scopes = c.scopes[:len(c.scopes)-1] }()
	t := c.pipe(b.Pipe, dot)
	c.declare(b.Pipe, t)
	inner := dot
	if with {
		inner = t
	}
	c.list(tree, b.List, inner, depth)
	c.list(tree, b.ElseList, dot, depth)
}

func (c *checker) rangeNode(tree *parse.Tree, r *parse.RangeNode, dot reflect.Type, depth int) {
	if depth == MaxRangeDepth {
		c.problem(r, "ranges are nested more than %d deep", MaxRangeDepth)
		return
	}
	c.scopes = append(c.scopes, map[string]reflect.Type{})
	defer func() { c.scopes = c.scopes[:len(c.scopes)-1] }()
	cmds := make([]string, len(r.Pipe.Cmds))
	for i, cmd := range r.Pipe.Cmds {
		cmds[i] = cmd.String()
	}
	t := c.pipe(r.Pipe, dot)
	key, elem, ok := listTypes(t)
	if !ok {
		c.problem(r, "range over %s: %s; range works only over a list, such as .Incident.Assets or (impacts .Incident.Impact)", strings.Join(cmds, " | "), notAList(t))
	}
	if decl := r.Pipe.Decl; !r.Pipe.IsAssign && len(decl) > 0 {
		c.scopes[len(c.scopes)-1][decl[len(decl)-1].Ident[0]] = elem
		if len(decl) == 2 {
			c.scopes[len(c.scopes)-1][decl[0].Ident[0]] = key
		}
	}
	c.list(tree, r.List, elem, depth+1)
	c.list(tree, r.ElseList, dot, depth)
	meterRange(tree, r, steps(r.List))
}

// declare gives the variables an action or a branch declares (not those it
// assigns) the type of its pipeline.
func (c *checker) declare(p *parse.PipeNode, t reflect.Type) {
	if !p.IsAssign && len(p.Decl) == 1 {
		c.scopes[len(c.scopes)-1][p.Decl[0].Ident[0]] = t
	}
}

func (c *checker) variable(name string) reflect.Type {
	if c.assigned[name] {
		return nil
	}
	for i := len(c.scopes) - 1; i >= 0; i-- {
		if t, ok := c.scopes[i][name]; ok {
			return t
		}
	}
	return nil
}

// pipe is the type of a pipeline's value: that of its last command.
func (c *checker) pipe(p *parse.PipeNode, dot reflect.Type) reflect.Type {
	var t reflect.Type
	for i, cmd := range p.Cmds {
		t = c.command(cmd, dot, i > 0)
	}
	return t
}

// command is the type of a command's value; piped is whether the value of
// the command before it is passed as a last argument.
func (c *checker) command(cmd *parse.CommandNode, dot reflect.Type, piped bool) reflect.Type {
	args := cmd.Args[1:]
	types := make([]reflect.Type, len(args))
	for i, a := range args {
		types[i] = c.operand(a, dot, nil, nil, false)
	}
	return c.operand(cmd.Args[0], dot, args, types, piped)
}

// operand is the type of n's value, given args (of types) and, when piped, a
// value piped after them.
func (c *checker) operand(n parse.Node, dot reflect.Type, args []parse.Node, types []reflect.Type, piped bool) reflect.Type {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.FieldNode:
		return c.fields(n, dot, n.Ident, args, piped)
	case *parse.ChainNode:
		return c.fields(n, c.operand(n.Node, dot, nil, nil, false), n.Field, args, piped)
	case *parse.VariableNode:
		return c.fields(n, c.variable(n.Ident[0]), n.Ident[1:], args, piped)
	case *parse.IdentifierNode:
		return c.function(n, args, types, piped)
	case *parse.PipeNode:
		return c.pipe(n, dot)
	case *parse.NumberNode:
		if n.IsInt {
			return intType
		}
		return reflect.TypeFor[float64]()
	case *parse.StringNode:
		return stringType
	case *parse.BoolNode:
		return boolType
	}
	return nil
}

// fields follows a chain of field names from a value of type t. A method at
// the end of the chain may be given arguments, but only literals: a method
// such as Format, handed text a template built, could make a lot more of it.
func (c *checker) fields(n parse.Node, t reflect.Type, names []string, args []parse.Node, piped bool) reflect.Type {
	for i, name := range names {
		last := i == len(names)-1
		if t == nil || t.Kind() == reflect.Interface {
			if last && (len(args) > 0 || piped) {
				c.problem(n, "%s: its arguments cannot be checked, because what comes before .%s cannot be worked out", n, name)
			}
			return nil
		}
		if m, ok := method(t, name); ok {
			if last && m.Type.NumIn() > 1 {
				if piped {
					c.problem(n, "%s: a method cannot be given a piped value, only literal arguments such as \"2006-01-02\"", n)
				}
				for _, a := range args {
					switch a.(type) {
					case *parse.StringNode, *parse.NumberNode, *parse.BoolNode:
					default:
						c.problem(a, "%s: a method takes only literal arguments such as \"2006-01-02\", not %s", n, a)
					}
				}
			}
			if m.Type.NumOut() == 0 {
				return nil
			}
			t = m.Type.Out(0)
			continue
		}
		base := t
		for base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		switch base.Kind() {
		case reflect.Struct:
			f, ok := base.FieldByName(name)
			if !ok || !f.IsExported() {
				if names := fieldNames(base); names != "" {
					c.problem(n, "%s: there is no field %s here; the fields here are %s", n, name, names)
				} else {
					c.problem(n, "%s: there is no field %s here", n, name)
				}
				return nil
			}
			t = f.Type
		case reflect.Map:
			if base.Key().Kind() != reflect.String {
				return nil
			}
			t = base.Elem()
		default:
			c.problem(n, "%s: there is no field %s here: %s has no fields", n, name, kindWords(base))
			return nil
		}
	}
	return t
}

// method finds what text/template would call for .name on a value of type t.
func method(t reflect.Type, name string) (reflect.Method, bool) {
	if m, ok := t.MethodByName(name); ok {
		return m, true
	}
	if t.Kind() != reflect.Pointer {
		return reflect.PointerTo(t).MethodByName(name)
	}
	return reflect.Method{}, false
}

// function is the type a function's call gives.
func (c *checker) function(n *parse.IdentifierNode, args []parse.Node, types []reflect.Type, piped bool) reflect.Type {
	switch n.Ident {
	case "call":
		c.problem(n, "the call function is not available")
	case "impacts":
		return stringsType
	case "printf":
		if len(args) > 0 {
			if format, ok := args[0].(*parse.StringNode); ok {
				if _, err := formatPadding(format.Text); err != nil {
					c.problem(n, "%v", err)
				}
			}
		}
		return stringType
	case "join", "print", "println", "html", "js", "urlquery":
		return stringType
	case "len":
		return intType
	case "eq", "ne", "lt", "le", "gt", "ge", "not":
		return boolType
	case "index":
		if piped || len(types) == 0 {
			return nil
		}
		t := types[0]
		for range types[1:] {
			t = elemType(t)
		}
		return t
	case "slice":
		if piped || len(types) == 0 || types[0] == nil {
			return nil
		}
		switch t := indirectType(types[0]); t.Kind() {
		case reflect.String, reflect.Slice:
			return t
		case reflect.Array:
			return reflect.SliceOf(t.Elem())
		}
	}
	return nil // and, or: either argument
}

// listTypes are the key and element types of a list or map a range can
// go over.
func listTypes(t reflect.Type) (key, elem reflect.Type, ok bool) {
	if t == nil {
		return nil, nil, false
	}
	switch t = indirectType(t); t.Kind() {
	case reflect.Slice, reflect.Array:
		return intType, t.Elem(), true
	case reflect.Map:
		return t.Key(), t.Elem(), true
	}
	return nil, nil, false
}

// elemType is the type index gives for one index into a value of type t.
func elemType(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	switch t = indirectType(t); t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return t.Elem()
	case reflect.String:
		return reflect.TypeFor[byte]()
	}
	return nil
}

func indirectType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// notAList says, for a policy author, why a value of type t is not a list.
func notAList(t reflect.Type) string {
	if t == nil || t.Kind() == reflect.Interface {
		return "it cannot be shown to be a list"
	}
	return "it is " + kindWords(indirectType(t)) + ", not a list"
}

func kindWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct:
		return "a record"
	case reflect.Slice, reflect.Array, reflect.Map:
		return "a list"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return "a number"
	}
	return "a " + t.Kind().String()
}

func fieldNames(t reflect.Type) string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous && indirectType(f.Type).Kind() == reflect.Struct {
			if inner := fieldNames(indirectType(f.Type)); inner != "" {
				names = append(names, inner)
			}
			continue
		}
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// meterRange makes a range charge the render's budget before it loops:
// {{range PIPELINE}} runs as {{range PIPELINE | range STEPS}}, STEPS being
// the cost of one pass through its body (see budget.iterate).
func meterRange(tree *parse.Tree, r *parse.RangeNode, steps int) {
	fn := parse.NewIdentifier(rangeFunc).SetTree(tree).SetPos(r.Pos)
	cost := &parse.NumberNode{NodeType: parse.NodeNumber, Pos: r.Pos, IsInt: true, Int64: int64(steps), Text: strconv.Itoa(steps)}
	r.Pipe.Cmds = append(r.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: r.Pos, Args: []parse.Node{fn, cost}})
}

// steps is what running n once costs: a step a node, and one for every 64
// bytes of literal text.
func steps(n parse.Node) int {
	s := 0
	eachNode(n, func(n parse.Node) {
		s++
		switch n := n.(type) {
		case *parse.TextNode:
			s += len(n.Text) / 64
		case *parse.StringNode:
			s += len(n.Text) / 64
		}
	})
	return s
}

// eachNode calls f for n and every node beneath it.
func eachNode(n parse.Node, f func(parse.Node)) {
	f(n)
	branch := func(b *parse.BranchNode) {
		eachNode(b.Pipe, f)
		eachNode(b.List, f)
		if b.ElseList != nil {
			eachNode(b.ElseList, f)
		}
	}
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			eachNode(c, f)
		}
	case *parse.ActionNode:
		eachNode(n.Pipe, f)
	case *parse.PipeNode:
		for _, v := range n.Decl {
			eachNode(v, f)
		}
		for _, c := range n.Cmds {
			eachNode(c, f)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			eachNode(a, f)
		}
	case *parse.ChainNode:
		eachNode(n.Node, f)
	case *parse.IfNode:
		branch(&n.BranchNode)
	case *parse.RangeNode:
		branch(&n.BranchNode)
	case *parse.WithNode:
		branch(&n.BranchNode)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			eachNode(n.Pipe, f)
		}
	}
}
