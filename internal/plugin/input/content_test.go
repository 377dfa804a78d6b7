package input

import (
	"maps"
	"strings"
	"testing"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func TestContent(t *testing.T) {
	type content = map[string]securityv1alpha1.ContentValue
	tests := map[string]struct {
		pairs []string
		file  string
		want  content
		err   string
	}{
		"flags": {
			pairs: []string{"nature=Laptop stolen, with payroll data", "contact=dpo@example.org"},
			want:  content{"nature": "Laptop stolen, with payroll data", "contact": "dpo@example.org"},
		},
		"text with = in it": {
			pairs: []string{"measures=set a=b on the firewall"},
			want:  content{"measures": "set a=b on the firewall"},
		},
		"a YAML file, numbers and true or false as text": {
			file: "nature: Laptop stolen\ndataSubjectCount: 1200\nrecordCount: 2.5\nencrypted: false\n",
			want: content{"nature": "Laptop stolen", "dataSubjectCount": "1200", "recordCount": "2.5", "encrypted": "false"},
		},
		"a JSON file and flags": {
			file:  `{"nature": "Laptop stolen"}`,
			pairs: []string{"contact=DPO"},
			want:  content{"nature": "Laptop stolen", "contact": "DPO"},
		},
		"nothing given": {
			err: "--content is required",
		},
		"no =": {
			pairs: []string{"nature"},
			err:   `--content "nature" is not FIELD=TEXT`,
		},
		"no field": {
			pairs: []string{"=text"},
			err:   "is not FIELD=TEXT",
		},
		"no text": {
			pairs: []string{"nature=  "},
			err:   "--content nature= has no text",
		},
		"a field twice on the command line": {
			pairs: []string{"nature=a", "nature=b"},
			err:   "nature is given twice",
		},
		"a field in the file and on the command line": {
			file:  "nature: a\n",
			pairs: []string{"nature=b"},
			err:   "nature is given twice",
		},
		"a field twice in the file": {
			file: "nature: a\nnature: b\n",
			err:  "is not a map of field to text",
		},
		"a list in the file": {
			file: "measures: [a, b]\n",
			err:  "measures is not text",
		},
		"an empty field in the file": {
			file: "nature:\n",
			err:  "nature is not text",
		},
		"a file that is not a map": {
			file: "- nature\n",
			err:  "is not a map of field to text",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var data []byte
			if tc.file != "" {
				data = []byte(tc.file)
			}
			got, err := Content("content", tc.pairs, "draft.yaml", data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
