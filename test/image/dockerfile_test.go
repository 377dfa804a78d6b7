package image

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// finalStage is what the last stage of a Dockerfile sets: the instructions
// that shape how the image runs, by name, with their arguments.
type finalStage struct {
	base         string
	instructions map[string][]string // USER, WORKDIR, ENTRYPOINT, LABEL: the arguments of each
}

// parseFinalStage reads a Dockerfile's last stage. It joins continued
// lines and skips comments, which is all this Dockerfile needs.
func parseFinalStage(t *testing.T, path string) finalStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stage finalStage
	var line strings.Builder
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		text := strings.TrimSpace(scanner.Text())
		if strings.HasPrefix(text, "#") || (text == "" && line.Len() == 0) {
			continue
		}
		if cut, continued := strings.CutSuffix(text, "\\"); continued {
			line.WriteString(cut + " ")
			continue
		}
		line.WriteString(text)
		instruction, args, _ := strings.Cut(line.String(), " ")
		line.Reset()
		instruction = strings.ToUpper(instruction)
		if instruction == "FROM" {
			stage = finalStage{base: strings.Fields(args)[0], instructions: map[string][]string{}}
			continue
		}
		if stage.instructions != nil {
			stage.instructions[instruction] = append(stage.instructions[instruction], strings.TrimSpace(args))
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return stage
}

// The Dockerfile, for people with a registry, and `make image` must build
// images that run the same way.
func TestDockerfileRunsAsTheOfflineImage(t *testing.T) {
	stage := parseFinalStage(t, filepath.Join(testenv.RepoRoot(), "Dockerfile"))
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}

	var entrypoint []string
	if got := stage.instructions["ENTRYPOINT"]; len(got) != 1 || json.Unmarshal([]byte(got[0]), &entrypoint) != nil {
		t.Fatalf("the Dockerfile's final stage needs one ENTRYPOINT in exec form, such as [\"/manager\"]; it has %q", got)
	}
	if !slices.Equal(entrypoint, cfg.Config.Entrypoint) {
		t.Errorf("Dockerfile ENTRYPOINT %q, make image %q", entrypoint, cfg.Config.Entrypoint)
	}
	if got := stage.instructions["USER"]; len(got) != 1 || got[0] != cfg.Config.User {
		t.Errorf("Dockerfile USER %q, make image %q", got, cfg.Config.User)
	}
	if got := stage.instructions["WORKDIR"]; len(got) != 1 || got[0] != cfg.Config.WorkingDir {
		t.Errorf("Dockerfile WORKDIR %q, make image %q", got, cfg.Config.WorkingDir)
	}
	// Every binary make image puts in the image, the Dockerfile copies in.
	copies := strings.Join(stage.instructions["COPY"], "\n")
	for _, binary := range []string{"/manager", "/witness"} {
		if _, err := os.Stat(filepath.Join(rootfs, binary)); err != nil {
			t.Errorf("make image's image lacks %s: %v", binary, err)
		}
		if !regexp.MustCompile(`(?m)\s` + regexp.QuoteMeta(binary) + `$`).MatchString(copies) {
			t.Errorf("the Dockerfile's final stage does not COPY %s, which make image puts in the image:\n%s", binary, copies)
		}
	}
	labels := strings.Join(stage.instructions["LABEL"], " ")
	for key := range cfg.Config.Labels {
		if key != "org.opencontainers.image.created" && !strings.Contains(labels, key+"=") {
			t.Errorf("the Dockerfile does not set the label %s that make image sets", key)
		}
	}
}
