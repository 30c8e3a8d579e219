package ociimage_test

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tributary-iot/tributary/internal/ociimage"
	"github.com/tributary-iot/tributary/internal/proctest"
)

// The real edge for this machine (amd64 here) and, for the other
// platforms, whose binaries this machine cannot run, the smallest Go
// program: the image holds it as it would the edge, and Build checks its
// build information against the platform just the same.
var (
	edgeAMD64 = &proctest.Binaries{Packages: []string{"github.com/tributary-iot/tributary/cmd/edge"},
		Env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}}
	hello = map[ociimage.Platform]*proctest.Binaries{
		ociimage.Platforms[1]: {Packages: []string{"./testdata/hello"}, Env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}},
		ociimage.Platforms[2]: {Packages: []string{"./testdata/hello"}, Env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7"}},
		ociimage.Platforms[3]: {Packages: []string{"./testdata/hello"}, Env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=6"}},
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	edgeAMD64.Remove()
	for _, b := range hello {
		b.Remove()
	}
	os.Exit(code)
}

func binaries(t *testing.T) map[ociimage.Platform]string {
	t.Helper()
	if ociimage.Platforms[0] != (ociimage.Platform{OS: "linux", Arch: "amd64"}) {
		t.Fatalf("Platforms[0] = %v, the test expects linux/amd64", ociimage.Platforms[0])
	}
	bins := map[ociimage.Platform]string{ociimage.Platforms[0]: edgeAMD64.Path(t, "github.com/tributary-iot/tributary/cmd/edge")}
	for p, b := range hello {
		bins[p] = b.Path(t, "./testdata/hello")
	}
	return bins
}

func edgeSpec(t *testing.T) ociimage.Spec {
	t.Helper()
	spec, ok := ociimage.Lookup("tributary-edge")
	if !ok {
		t.Fatal("no image tributary-edge in ociimage.Images")
	}
	return spec
}

// TestEdgeImage builds the edge image for the four platforms, writes it as
// `make images` does, reads the archive back and checks the index, each
// config and layer, then runs the amd64 binary from the unpacked root file
// system, chrooted, as the image's user.
func TestEdgeImage(t *testing.T) {
	spec, bins := edgeSpec(t), binaries(t)
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	opt := ociimage.Options{Version: "v9.9.9-test", Revision: "abc123", Created: created}
	idx, err := ociimage.Build(spec, bins, opt)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dir := filepath.Join(out, spec.Name)
	if err := ociimage.WriteLayout(dir, idx, spec.Name, "test"); err != nil {
		t.Fatal(err)
	}
	archive := dir + ".oci.tar"
	if err := ociimage.WriteArchive(archive, dir, created); err != nil {
		t.Fatal(err)
	}

	// The same inputs give the same digest.
	again, err := ociimage.Build(spec, bins, opt)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same binaries: index digests %v and %v", d1, d2)
	}

	// Read it back from the archive, as a loader would.
	loaded := untar(t, archive, filepath.Join(out, "loaded"))
	lp, err := layout.FromPath(loaded)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1", len(tm.Manifests))
	}
	entry := tm.Manifests[0]
	if entry.MediaType != types.OCIImageIndex || entry.Digest != d1 {
		t.Errorf("index.json entry: %s %v, want %s %v", entry.MediaType, entry.Digest, types.OCIImageIndex, d1)
	}
	if got := entry.Annotations[ociimage.AnnotationRefName]; got != "tributary-edge:test" {
		t.Errorf("ref name %q", got)
	}
	if got := entry.Annotations[ociimage.AnnotationContainerdName]; got != "docker.io/library/tributary-edge:test" {
		t.Errorf("containerd name %q", got)
	}
	multi, err := top.ImageIndex(entry.Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := multi.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []ociimage.Platform
	for _, d := range im.Manifests {
		plats = append(plats, ociimage.Platform{OS: d.Platform.OS, Arch: d.Platform.Architecture, Variant: d.Platform.Variant})
	}
	if !slices.Equal(plats, ociimage.Platforms) {
		t.Fatalf("index platforms %v, want %v", plats, ociimage.Platforms)
	}

	var amd64Layer []byte
	for i, d := range im.Manifests {
		p := plats[i]
		img, err := multi.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 || d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%v: manifest media type %s (descriptor %s)", p, mt, d.MediaType)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		checkConfig(t, p, spec, cf)
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != 1 {
			t.Fatalf("%v: %d layers, want 1", p, len(layers))
		}
		if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
			t.Errorf("%v: layer media type %s", p, mt)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(bins[p])
		if err != nil {
			t.Fatal(err)
		}
		checkLayer(t, p, spec, data, want)
		if i == 0 {
			amd64Layer = data
		}
	}

	rootfs := filepath.Join(out, "rootfs")
	unpack(t, amd64Layer, rootfs)
	edge := filepath.Join(rootfs, spec.Entrypoint())
	version, err := exec.Command(edge, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(version), "tributary edge ") {
		t.Fatalf("%s --version: %v: %q", edge, err, version)
	}

	// Inside the root file system as the image's user: a user namespace
	// maps the image's uid and gid to ours, so this needs no root.
	asUser := func(args ...string) *exec.Cmd {
		cmd := exec.Command(spec.Entrypoint(), args...)
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/local/bin", "STATE_DIRECTORY=" + spec.StateDir}
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:      rootfs,
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: ociimage.UID, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: ociimage.GID, HostID: os.Getgid(), Size: 1}},
			Credential:  &syscall.Credential{Uid: ociimage.UID, Gid: ociimage.GID, NoSetGroups: true},
		}
		return cmd
	}
	inside, err := asUser("--version").CombinedOutput()
	if err != nil || string(inside) != string(version) {
		t.Fatalf("chrooted %s --version as %d: %v: %q (outside: %q)", spec.Entrypoint(), ociimage.UID, err, inside, version)
	}
	// The agent starts in it (no uplink: it spools) and keeps its state in
	// the image's state directory, which its user may write.
	p := proctest.StartCmd(t, "edge (chrooted)", asUser("--sim", "--device", "imgtest",
		"--redis", "redis://127.0.0.1:1", "--metrics-listen="))
	p.Await(t, `msg="edge starting".* state_dir=`+regexp.QuoteMeta(spec.StateDir)+` `, 60*time.Second)
	if _, err := os.Stat(filepath.Join(rootfs, spec.StateDir, "imgtest.boot")); err != nil {
		t.Errorf("the agent's boot counter in the state dir: %v", err)
	}
}

func checkConfig(t *testing.T, p ociimage.Platform, spec ociimage.Spec, cf *v1.ConfigFile) {
	t.Helper()
	if cf.OS != p.OS || cf.Architecture != p.Arch || cf.Variant != p.Variant {
		t.Errorf("%v: config says %s/%s/%s", p, cf.OS, cf.Architecture, cf.Variant)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("%v: user %q, want 65532:65532", p, cf.Config.User)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/edge"}) {
		t.Errorf("%v: entrypoint %q", p, cf.Config.Entrypoint)
	}
	if !slices.Contains(cf.Config.Env, "STATE_DIRECTORY=/var/lib/tributary-edge") {
		t.Errorf("%v: env %q", p, cf.Config.Env)
	}
	if _, ok := cf.Config.Volumes["/var/lib/tributary-edge"]; !ok {
		t.Errorf("%v: volumes %v", p, cf.Config.Volumes)
	}
	if got := cf.Config.Labels["org.opencontainers.image.version"]; got != "v9.9.9-test" {
		t.Errorf("%v: version label %q", p, got)
	}
	if len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("%v: %d diff ids", p, len(cf.RootFS.DiffIDs))
	}
}

// checkLayer checks the layer's files, their modes and owners.
func checkLayer(t *testing.T, p ociimage.Platform, spec ociimage.Spec, layer, binary []byte) {
	t.Helper()
	type entry struct {
		hdr  *tar.Header
		data []byte
	}
	files := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%v: layer: %v", p, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = entry{h, data}
	}
	want := map[string]struct {
		mode int64
		uid  int
	}{
		"usr/local/bin/edge":                {0o755, 0},
		"etc/passwd":                        {0o644, 0},
		"etc/group":                         {0o644, 0},
		"etc/ssl/certs/ca-certificates.crt": {0o644, 0},
		"tmp":                               {0o1777, 0},
		"var/lib/tributary-edge":            {0o700, ociimage.UID},
	}
	for name, w := range want {
		e, ok := files[name]
		if !ok {
			t.Errorf("%v: layer lacks %s", p, name)
			continue
		}
		if e.hdr.Mode != w.mode || e.hdr.Uid != w.uid || e.hdr.Gid != w.uid {
			t.Errorf("%v: %s mode %o owner %d:%d, want %o %d:%d", p, name, e.hdr.Mode, e.hdr.Uid, e.hdr.Gid, w.mode, w.uid, w.uid)
		}
	}
	if !bytes.Equal(files["usr/local/bin/edge"].data, binary) {
		t.Errorf("%v: the layer's binary differs from the one built", p)
	}
	if !strings.Contains(string(files["etc/passwd"].data), "\ntributary:x:65532:65532:tributary:/nonexistent:/sbin/nologin\n") {
		t.Errorf("%v: /etc/passwd:\n%s", p, files["etc/passwd"].data)
	}
	if !strings.Contains(string(files["etc/group"].data), "\ntributary:x:65532:\n") {
		t.Errorf("%v: /etc/group:\n%s", p, files["etc/group"].data)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(files["etc/ssl/certs/ca-certificates.crt"].data) {
		t.Errorf("%v: the CA bundle holds no certificate", p)
	}
}

// TestBuildRefusesWrongBinary: the armv7 build in the armv6 image, a
// binary of another architecture, a binary with cgo, each is refused with
// an error naming the mismatch.
func TestBuildRefusesWrongBinary(t *testing.T) {
	spec, bins := edgeSpec(t), binaries(t)
	v6, v7, arm64 := ociimage.Platforms[3], ociimage.Platforms[2], ociimage.Platforms[1]
	for _, tc := range []struct {
		name string
		p    ociimage.Platform
		bin  string
		want string
	}{
		{"armv7 as armv6", v6, bins[v7], "GOARM=7, want GOARM=6"},
		{"arm64 as armv6", v6, bins[arm64], "is for linux/arm64, not linux/arm/v6"},
		{"not a Go binary", arm64, "/bin/sh", "not a Go binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ociimage.Build(spec, map[ociimage.Platform]string{tc.p: tc.bin}, ociimage.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build: %v, want an error with %q", err, tc.want)
			}
		})
	}
	_, err := ociimage.Build(spec, map[ociimage.Platform]string{arm64: bins[arm64]}, ociimage.Options{CACerts: "/dev/null"})
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("Build with an empty CA bundle: %v", err)
	}
}

// untar extracts the archive file into dir and returns dir.
func untar(t *testing.T, file, dir string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	unpack(t, data, dir)
	return dir
}

// unpack extracts a tar (directories, regular files and their modes; the
// owners are ours) into dir.
func unpack(t *testing.T, data []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(name, dir+string(filepath.Separator)) {
			t.Fatalf("tar entry %q outside %s", h.Name, dir)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(name, h.FileInfo().Mode()); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, b, h.FileInfo().Mode().Perm()); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("tar entry %q: type %c", h.Name, h.Typeflag)
		}
	}
}
