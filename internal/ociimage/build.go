package ociimage

import (
	"archive/tar"
	"bytes"
	"cmp"
	"crypto/x509"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultCACerts is where Debian's ca-certificates keeps the bundle, and the
// first place Go's crypto/x509 looks for it on Linux: the images put it
// there too.
const DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

// Options are what Build takes besides a spec and binaries.
type Options struct {
	// Version is the org.opencontainers.image.version label. Default
	// "devel".
	Version string
	// Revision is the org.opencontainers.image.revision label (a commit).
	// Default none.
	Revision string
	// Created is the time of every file and of the config: the same
	// binaries and Created give the same digests. Default the Unix epoch.
	Created time.Time
	// CACerts is the PEM bundle of CA certificates to install. Default
	// DefaultCACerts.
	CACerts string
}

// Build returns the multi-platform image index of spec: one image per
// entry of binaries (platform to the path of its static binary), in the
// order of Platforms. Each binary's Go build information must match its
// platform and say CGO_ENABLED=0; the CA bundle must hold at least one
// certificate.
func Build(spec Spec, binaries map[Platform]string, opt Options) (v1.ImageIndex, error) {
	if len(binaries) == 0 {
		return nil, fmt.Errorf("image %s: no binaries", spec.Name)
	}
	certs, err := os.ReadFile(cmp.Or(opt.CACerts, DefaultCACerts))
	if err != nil {
		return nil, fmt.Errorf("image %s: CA certificates (Debian: apt install ca-certificates): %w", spec.Name, err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(certs) {
		return nil, fmt.Errorf("image %s: %s holds no PEM certificate", spec.Name, cmp.Or(opt.CACerts, DefaultCACerts))
	}
	created := opt.Created.UTC()
	if opt.Created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	plats := make([]Platform, 0, len(binaries))
	for p := range binaries {
		plats = append(plats, p)
	}
	slices.SortFunc(plats, func(a, b Platform) int {
		return cmp.Compare(platformRank(a), platformRank(b))
	})

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range plats {
		img, err := buildImage(spec, p, binaries[p], certs, created, opt)
		if err != nil {
			return nil, fmt.Errorf("image %s for %s: %w", spec.Name, p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant},
			},
		})
	}
	return idx, nil
}

// platformRank orders platforms as Platforms does, unknown ones last.
func platformRank(p Platform) string {
	if i := slices.Index(Platforms, p); i >= 0 {
		return fmt.Sprintf("%03d", i)
	}
	return "999" + p.String()
}

func buildImage(spec Spec, p Platform, binary string, certs []byte, created time.Time, opt Options) (v1.Image, error) {
	if err := checkBinary(binary, p); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	layerTar, err := rootfs(spec, bin, certs, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}

	env := []string{"PATH=/usr/local/bin"}
	var volumes map[string]struct{}
	if spec.StateDir != "" {
		env = append(env, "STATE_DIRECTORY="+spec.StateDir)
		volumes = map[string]struct{}{spec.StateDir: {}}
	}
	var ports map[string]struct{}
	if len(spec.Ports) > 0 {
		ports = map[string]struct{}{}
		for _, port := range spec.Ports {
			ports[port] = struct{}{}
		}
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       spec.Name,
		"org.opencontainers.image.description": spec.Description,
		"org.opencontainers.image.version":     cmp.Or(opt.Version, "devel"),
		"org.opencontainers.image.source":      "https://github.com/tributary-iot/tributary",
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
	}
	if opt.Revision != "" {
		labels["org.opencontainers.image.revision"] = opt.Revision
	}
	cf := &v1.ConfigFile{
		Architecture: p.Arch,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			User:         fmt.Sprintf("%d:%d", UID, GID),
			Entrypoint:   []string{spec.Entrypoint()},
			Cmd:          spec.Cmd,
			Env:          env,
			WorkingDir:   "/",
			ExposedPorts: ports,
			Volumes:      volumes,
			Labels:       labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cf)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "tributary internal/ociimage (make images)",
			Comment:   spec.Entrypoint() + ", CA certificates, /etc/passwd",
		},
	})
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return img, nil
}

// checkBinary checks that the Go build information of the binary at file
// matches p and says it is static (CGO_ENABLED=0).
func checkBinary(file string, p Platform) error {
	bi, err := buildinfo.ReadFile(file)
	if err != nil {
		return fmt.Errorf("binary %s: not a Go binary with build information: %w", file, err)
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if set["GOOS"] != p.OS || set["GOARCH"] != p.Arch {
		return fmt.Errorf("binary %s is for %s/%s, not %s", file, set["GOOS"], set["GOARCH"], p)
	}
	if set["CGO_ENABLED"] != "0" {
		return fmt.Errorf("binary %s: built with CGO_ENABLED=%q, want 0 (a static binary: the image has no C library)", file, set["CGO_ENABLED"])
	}
	if p.Arch == "arm" {
		goarm, _, _ := strings.Cut(set["GOARM"], ",") // "6" or "6,softfloat"
		if "v"+goarm != p.Variant {
			return fmt.Errorf("binary %s: built with GOARM=%s, want GOARM=%s for %s", file, set["GOARM"], strings.TrimPrefix(p.Variant, "v"), p)
		}
	}
	return nil
}

// rootfs returns the image's only layer, an uncompressed tar.
func rootfs(spec Spec, bin, certs []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode,
			Uid: uid, Gid: uid, Uname: ownerName(uid), Gname: ownerName(uid), ModTime: mtime})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)),
			Uname: "root", Gname: "root", ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/nonexistent:/sbin/nologin\n", UserName, UID, GID, UserName)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, GID)
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return dir("etc/ssl", 0o755, 0) },
		func() error { return dir("etc/ssl/certs", 0o755, 0) },
		func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, certs) },
		func() error { return dir("tmp", 0o1777, 0) },
		func() error { return dir("usr", 0o755, 0) },
		func() error { return dir("usr/local", 0o755, 0) },
		func() error { return dir("usr/local/bin", 0o755, 0) },
		func() error { return file(strings.TrimPrefix(spec.Entrypoint(), "/"), 0o755, bin) },
	}
	if spec.StateDir != "" {
		parts := strings.Split(strings.Trim(spec.StateDir, "/"), "/")
		for i := range parts {
			name, last := path.Join(parts[:i+1]...), i == len(parts)-1
			if name == "etc" || name == "tmp" || name == "usr" {
				return nil, fmt.Errorf("state dir %s: inside a directory the image already has", spec.StateDir)
			}
			if last {
				steps = append(steps, func() error { return dir(name, 0o700, UID) })
			} else {
				steps = append(steps, func() error { return dir(name, 0o755, 0) })
			}
		}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}

func ownerName(uid int) string {
	if uid == UID {
		return UserName
	}
	return "root"
}
