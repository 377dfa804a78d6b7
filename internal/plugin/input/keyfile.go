package input

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/incidentops/incident-operator/internal/audit"
)

// KeyRing reads the audit signing keys from a key file: either the
// operator's Secret as kubectl prints it (-o yaml or -o json), or lines
// of id=hexsecret, with blank lines and lines starting with # ignored.
func KeyRing(data []byte) (*audit.KeyRing, error) {
	var secret corev1.Secret
	if err := yaml.Unmarshal(data, &secret); err == nil && secret.Kind == "Secret" {
		keys := map[string][]byte{}
		for id, v := range secret.Data {
			keys[id] = v
		}
		for id, v := range secret.StringData {
			keys[id] = []byte(v)
		}
		ring, err := audit.KeyRingFromSecret(keys)
		if err != nil {
			return nil, fmt.Errorf("the Secret %s in the key file: %w", secret.Name, err)
		}
		return ring, nil
	}
	var keys []audit.Key
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("key file line %d: write id=hexsecret (or give the Secret as kubectl get secret -o yaml prints it)", n)
		}
		secret, err := hex.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("key file line %d: the secret of key %q is not hex: %v", n, strings.TrimSpace(id), err)
		}
		keys = append(keys, audit.Key{ID: strings.TrimSpace(id), Secret: secret})
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the key file holds no keys: write id=hexsecret lines, or give the Secret as kubectl get secret -o yaml prints it")
	}
	return audit.NewKeyRing(keys...)
}
