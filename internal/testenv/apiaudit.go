package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// operatorRequestsPolicy has the API server log every answer it gives the
// operator's ServiceAccount, and nothing else, so that a test can check
// that none was refused.
const operatorRequestsPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    users: ["` + OperatorServiceAccount + `"]
  - level: None
`

// logOperatorRequests has the environment's API server write its answers to
// the operator's ServiceAccount to an audit log in dir.
func logOperatorRequests(env *envtest.Environment, dir string) error {
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(operatorRequestsPolicy), 0o600); err != nil {
		return err
	}
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Set("audit-policy-file", policy)
	args.Set("audit-log-path", filepath.Join(dir, "operator-requests.log"))
	args.Set("audit-log-format", "json")
	return nil
}

// OperatorRequest is one answer the API server gave the operator.
type OperatorRequest struct {
	Verb        string
	APIGroup    string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	Code        int
	Message     string
}

func (r OperatorRequest) String() string {
	resource := r.Resource
	if r.Subresource != "" {
		resource += "/" + r.Subresource
	}
	return fmt.Sprintf("%d %s %s %s/%s: %s", r.Code, r.Verb, resource, r.Namespace, r.Name, r.Message)
}

// OperatorRequests reads every answer the environment's API server gave the
// operator's ServiceAccount so far.
func OperatorRequests(env *envtest.Environment) ([]OperatorRequest, error) {
	path := env.ControlPlane.GetAPIServer().Configure().Get("audit-log-path").Get(nil)
	if len(path) != 1 {
		return nil, fmt.Errorf("the API server keeps no audit log of the operator's requests")
	}
	f, err := os.Open(path[0])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var requests []OperatorRequest
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var event struct {
			Verb      string `json:"verb"`
			User      struct{ Username string }
			ObjectRef struct {
				APIGroup, Resource, Subresource, Namespace, Name string
			} `json:"objectRef"`
			ResponseStatus struct {
				Code    int
				Message string
			} `json:"responseStatus"`
		}
		if err := json.Unmarshal(scanner.Bytes(), &event); err != nil {
			return nil, fmt.Errorf("reading the API server's audit log: %w", err)
		}
		if event.User.Username != OperatorServiceAccount {
			continue
		}
		requests = append(requests, OperatorRequest{
			Verb: event.Verb, APIGroup: event.ObjectRef.APIGroup, Resource: event.ObjectRef.Resource, Subresource: event.ObjectRef.Subresource,
			Namespace: event.ObjectRef.Namespace, Name: event.ObjectRef.Name,
			Code: event.ResponseStatus.Code, Message: event.ResponseStatus.Message,
		})
	}
	return requests, scanner.Err()
}

// CheckOperatorNeverForbidden fails when the API server refused a request
// of the operator's ServiceAccount (403) that it never allowed afterwards:
// the shipped RBAC lacks a verb the operator uses. A refusal followed by
// the same request allowed (same verb, resource and namespace) is the API
// server's authoriser warming up after a restart, not a missing verb. It
// also fails when the operator made no request at all, so that a check of
// nothing cannot pass.
func CheckOperatorNeverForbidden(env *envtest.Environment) error {
	requests, err := OperatorRequests(env)
	if err != nil {
		return err
	}
	if len(requests) == 0 {
		return fmt.Errorf("the API server saw no request from %s: the operator did not run as its ServiceAccount", OperatorServiceAccount)
	}
	if err := recordGrantsUsed(requests); err != nil {
		return err
	}
	refused := Refused(requests)
	if len(refused) > 0 {
		lines := make([]string, len(refused))
		for i, r := range refused {
			lines[i] = r.String()
		}
		return fmt.Errorf("the API server refused %d of the operator's %d requests under the shipped RBAC:\n  %s",
			len(refused), len(requests), strings.Join(lines, "\n  "))
	}
	return nil
}

// Refused are the requests answered 403 and not allowed later.
func Refused(requests []OperatorRequest) []OperatorRequest {
	type what struct{ verb, resource, subresource, namespace string }
	allowedAfter := map[what]bool{}
	var refused []OperatorRequest
	for i := len(requests) - 1; i >= 0; i-- {
		r := requests[i]
		w := what{r.Verb, r.Resource, r.Subresource, r.Namespace}
		switch {
		case r.Code == 403 && !allowedAfter[w]:
			refused = append(refused, r)
		case r.Code >= 200 && r.Code < 300:
			allowedAfter[w] = true
		}
	}
	slices.Reverse(refused)
	return refused
}

// GrantsUsedDir names the directory where each test binary that runs the
// operator records the grants its requests used (OperatorRequestsDir):
// `make test` sets it, and then checks that every grant of the shipped
// RBAC was used by some test (test/rbac).
const GrantsUsedDir = "OPERATOR_GRANTS_USED_DIR"

// Grant is what one allowed request used: "verb group/resource[/subresource]".
func (r OperatorRequest) Grant() string {
	resource := r.Resource
	if r.Subresource != "" {
		resource += "/" + r.Subresource
	}
	return r.Verb + " " + r.APIGroup + "/" + resource
}

// recordGrantsUsed writes the grants the allowed requests used to a file of
// their own in $OPERATOR_GRANTS_USED_DIR, when it is set.
func recordGrantsUsed(requests []OperatorRequest) error {
	dir := os.Getenv(GrantsUsedDir)
	if dir == "" {
		return nil
	}
	used := map[string]bool{}
	for _, r := range requests {
		if r.Code >= 200 && r.Code < 300 {
			used[r.Grant()] = true
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "grants-*.txt")
	if err != nil {
		return err
	}
	for _, g := range slices.Sorted(maps.Keys(used)) {
		fmt.Fprintln(f, g)
	}
	return f.Close()
}
