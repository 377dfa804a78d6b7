// Package image checks the operator image that `make image` builds: it
// unpacks the archive as a container runtime would, reads its config and
// runs its binary inside its own root filesystem, where there is nothing
// but what the image holds.
package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// stampedVersion is what the test asks `make image` to stamp.
const stampedVersion = "v0.0.0-imagetest"

var (
	// workDir holds what TestMain builds.
	workDir string
	// archive is the file `make image` wrote.
	archive string
	// img is the image read back from archive as an OCI layout.
	img v1.Image
	// rootfs is img's layers unpacked: the container's root filesystem.
	rootfs string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if workDir, err = os.MkdirTemp("", "incident-operator-image"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	archive = filepath.Join(workDir, "image.tar")
	if err := makeImage(archive); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if img, err = readLayout(archive, filepath.Join(workDir, "layout")); err != nil {
		fmt.Fprintln(os.Stderr, "reading the archive as an OCI layout:", err)
		return 1
	}
	rootfs = filepath.Join(workDir, "rootfs")
	if err := unpack(img, rootfs); err != nil {
		fmt.Fprintln(os.Stderr, "unpacking the image:", err)
		return 1
	}
	return m.Run()
}

// makeImage runs `make image` as a user would, with a known version.
func makeImage(out string) error {
	cmd := exec.Command("make", "-s", "image", "LOCALBIN="+workDir, "IMAGE_ARCHIVE="+out, "VERSION="+stampedVersion)
	cmd.Dir = testenv.RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make image: %v\n%s", err, b)
	}
	return nil
}

// readLayout extracts the archive into dir and reads its one image.
func readLayout(archive, dir string) (v1.Image, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := extract(tar.NewReader(f), dir); err != nil {
		return nil, err
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(manifest.Manifests) != 1 {
		return nil, fmt.Errorf("index.json lists %d manifests, want 1", len(manifest.Manifests))
	}
	return index.Image(manifest.Manifests[0].Digest)
}

// unpack applies the image's layers to dir, as a runtime makes a
// container's root filesystem.
func unpack(img v1.Image, dir string) error {
	fs := mutate.Extract(img)
	defer fs.Close()
	return extract(tar.NewReader(fs), dir)
}

// extract writes directories and regular files with their modes and, as
// root, their owners; the image holds nothing else.
func extract(tr *tar.Reader, dir string) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		path := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unexpected entry type %q", hdr.Name, hdr.Typeflag)
		}
		if err := os.Chmod(path, hdr.FileInfo().Mode()); err != nil {
			return err
		}
		// A runtime gives each file the owner the layer names; without
		// root, inImage's user namespace maps the test's user to the
		// image's instead.
		if os.Getuid() == 0 {
			if err := os.Lchown(path, hdr.Uid, hdr.Gid); err != nil {
				return err
			}
		}
	}
}

// inImage is a command that runs inside the image's root filesystem as the
// image's user: chrooted into rootfs, as that user (for a test run by
// anyone but root, in a user namespace that maps the image's user to the
// test's). It sees no file of the host: no zoneinfo, no CA certificates
// but the image's.
func inImage(t *testing.T, rootfs string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	uid, gid := imageUser(t)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Path = args[0] // resolved inside the chroot, not on the host's PATH
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     rootfs,
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true},
	}
	// Root may chroot and become the image's user as it is; anyone else
	// does so in a user namespace, where machines allow them.
	if os.Getuid() != 0 {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	return cmd
}

// imageUser is the numeric user and group of the image's config.
func imageUser(t *testing.T) (uid, gid int) {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(strings.Replace(cfg.Config.User, ":", " ", 1), "%d %d", &uid, &gid); err != nil {
		t.Fatalf("image user %q is not numeric uid:gid: %v", cfg.Config.User, err)
	}
	return uid, gid
}
