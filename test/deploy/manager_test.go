package deploy

import (
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Every $(VAR) in the Deployment's flags resolves: SMTP settings come from
// the smtp ConfigMap config/default ships, the operator's namespace from
// the Pod. A flag naming a variable the container lacks would reach the
// operator as the literal text "$(VAR)".
func TestDeploymentFlagsResolve(t *testing.T) {
	out, err := run(t, nil, kubectlBinary(), "kustomize", "config/default")
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	var deployment *appsv1.Deployment
	configMaps := map[string]map[string]string{}
	for _, doc := range strings.Split(out, "\n---\n") {
		switch {
		case strings.Contains(doc, "\nkind: Deployment\n"):
			deployment = &appsv1.Deployment{}
			if err := yaml.Unmarshal([]byte(doc), deployment); err != nil {
				t.Fatal(err)
			}
		case strings.Contains(doc, "\nkind: ConfigMap\n"):
			var cm corev1.ConfigMap
			if err := yaml.Unmarshal([]byte(doc), &cm); err != nil {
				t.Fatal(err)
			}
			configMaps[cm.Name] = cm.Data
		}
	}
	if deployment == nil {
		t.Fatalf("no Deployment in config/default")
	}
	container := deployment.Spec.Template.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range container.Env {
		env[e.Name] = e
	}
	variable := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	flags := map[string]bool{}
	for _, arg := range container.Args {
		flags[strings.SplitN(arg, "=", 2)[0]] = true
		for _, m := range variable.FindAllStringSubmatch(arg, -1) {
			e, ok := env[m[1]]
			switch {
			case !ok:
				t.Errorf("%s: the container has no variable %s", arg, m[1])
			case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
				ref := e.ValueFrom.ConfigMapKeyRef
				data, found := configMaps[ref.Name]
				if _, hasKey := data[ref.Key]; !found || !hasKey {
					t.Errorf("%s: %s reads key %s of ConfigMap %s, which config/default does not ship", arg, m[1], ref.Key, ref.Name)
				}
			case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			default:
				t.Errorf("%s: %s has no source", arg, m[1])
			}
		}
	}
	for _, want := range []string{"--smtp-address", "--smtp-from", "--smtp-security", "--smtp-credentials-secret", "--operator-namespace", "--audit-log-key-secret", "--leader-elect"} {
		if !flags[want] {
			t.Errorf("the Deployment does not pass %s", want)
		}
	}
}
