package image

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/incidentops/incident-operator/internal/testenv"
	"github.com/incidentops/incident-operator/internal/witness"
)

// headCommit is what `make image` stamps as the commit by default.
func headCommit(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("git", "rev-parse", "HEAD")
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestImageIsAValidOCIImage(t *testing.T) {
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string]func() (types.MediaType, error){
		"manifest": img.MediaType,
		"config": func() (types.MediaType, error) {
			m, err := img.Manifest()
			return m.Config.MediaType, err
		},
	} {
		mt, err := got()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(mt), "application/vnd.oci.") {
			t.Errorf("%s media type is %s, want an OCI one", what, mt)
		}
	}
}

func TestImageConfig(t *testing.T) {
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532 (nonroot)", cfg.Config.User)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/manager"}) {
		t.Errorf("Entrypoint = %q, want [/manager]", cfg.Config.Entrypoint)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" {
		t.Errorf("platform = %s/%s, want linux/<arch>", cfg.OS, cfg.Architecture)
	}
	want := map[string]string{
		"org.opencontainers.image.version":  stampedVersion,
		"org.opencontainers.image.revision": headCommit(t),
		"org.opencontainers.image.source":   "https://github.com/incidentops/incident-operator",
	}
	manifest, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range want {
		if got := cfg.Config.Labels[key]; got != value {
			t.Errorf("label %s = %q, want %q", key, got, value)
		}
		if got := manifest.Annotations[key]; got != value {
			t.Errorf("annotation %s = %q, want %q", key, got, value)
		}
	}
	if _, err := time.Parse(time.RFC3339, cfg.Config.Labels["org.opencontainers.image.created"]); err != nil {
		t.Errorf("label org.opencontainers.image.created: %v", err)
	}
}

// The archive is also what `docker save` writes: manifest.json names the
// same config and layers as the OCI index.
func TestArchiveReadsAsDockerArchive(t *testing.T) {
	docker, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(docker); err != nil {
		t.Fatal(err)
	}
	ociConfig, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	dockerConfig, err := docker.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ociConfig, dockerConfig) {
		t.Error("manifest.json names another config than index.json")
	}
	ociLayers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	dockerLayers, err := docker.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ociLayers) != len(dockerLayers) {
		t.Fatalf("manifest.json names %d layers, index.json %d", len(dockerLayers), len(ociLayers))
	}
	for i := range ociLayers {
		a, _ := ociLayers[i].Digest()
		b, _ := dockerLayers[i].Digest()
		if a != b {
			t.Errorf("layer %d is %s in index.json, %s in manifest.json", i, a, b)
		}
	}
}

func TestImageFiles(t *testing.T) {
	for path, wantMode := range map[string]os.FileMode{
		"manager":                           0o755,
		"witness":                           0o755,
		"etc/ssl/certs/ca-certificates.crt": 0o644,
		"etc/passwd":                        0o644,
		"tmp":                               os.ModeDir | os.ModeSticky | 0o777,
	} {
		fi, err := os.Stat(filepath.Join(rootfs, path))
		if err != nil {
			t.Errorf("image lacks /%s: %v", path, err)
			continue
		}
		if fi.Mode() != wantMode {
			t.Errorf("/%s has mode %v, want %v", path, fi.Mode(), wantMode)
		}
	}
	certs, err := os.ReadFile(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(certs, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Error("/etc/ssl/certs/ca-certificates.crt holds no PEM certificate")
	}
	passwd, err := os.ReadFile(filepath.Join(rootfs, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(passwd, []byte("nonroot:x:65532:65532:")) {
		t.Errorf("/etc/passwd does not name the image's user 65532:\n%s", passwd)
	}
	for _, absent := range []string{"usr/share/zoneinfo", "bin/sh"} {
		if _, err := os.Stat(filepath.Join(rootfs, absent)); err == nil {
			t.Errorf("image holds /%s; it should hold only what the operator needs", absent)
		}
	}
}

// The binary in the image, run as the image's user in the image's root
// filesystem, says what make stamped.
func TestVersionOfTheImagesBinary(t *testing.T) {
	out, err := inImage(t, rootfs, nil, "/manager", "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("/manager --version: %v\n%s", err, out)
	}
	want := "incident-operator " + stampedVersion + " (commit " + headCommit(t) + ")\n"
	if string(out) != want {
		t.Errorf("/manager --version printed %q, want %q", out, want)
	}
}

// The witness's binary runs in the image too, as the image's user with
// nothing but the image's files: keygen writes a key and prints a verifier
// key that parses.
func TestWitnessRunsInTheImage(t *testing.T) {
	keyFile := filepath.Join(rootfs, "tmp", "witness.key")
	t.Cleanup(func() { _ = os.Remove(keyFile) })
	out, err := inImage(t, rootfs, nil, "/witness", "keygen", "--name", "witness.example.org/security", "--key-file", "/tmp/witness.key").Output()
	if err != nil {
		t.Fatalf("/witness keygen: %v\n%s", err, out)
	}
	if _, err := witness.NewVerifier(strings.TrimSpace(string(out))); err != nil {
		t.Errorf("/witness keygen printed %q, not a verifier key: %v", out, err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Errorf("/witness keygen wrote no key: %v", err)
	}
}

// The same commit builds the same bytes: the binary is built with
// -trimpath, and every file and the image are dated at the commit.
func TestImageIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image a second time")
	}
	again := filepath.Join(workDir, "again.tar")
	if err := makeImage(again); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(again)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(first) != sha256.Sum256(second) {
		t.Error("two builds of the same tree wrote different archives")
	}
}
