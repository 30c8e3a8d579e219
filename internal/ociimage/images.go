package ociimage

import (
	"fmt"
	"strings"
)

// Platform is an image's operating system, architecture and variant, as in
// an OCI index (linux/arm/v6).
type Platform struct {
	OS, Arch, Variant string
}

// String is the platform as Docker's --platform spells it: linux/arm/v6.
func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Slug is the platform in a file name: linux-armv6.
func (p Platform) Slug() string { return p.OS + "-" + p.Arch + p.Variant }

// ParsePlatform parses linux/amd64, linux/arm/v7 and the like.
func ParsePlatform(s string) (Platform, error) {
	f := strings.Split(s, "/")
	if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant", s)
	}
	p := Platform{OS: f[0], Arch: f[1]}
	if len(f) == 3 {
		p.Variant = f[2]
	}
	return p, nil
}

// Platforms are the platforms every image is built for: servers and
// 64-bit Raspberry Pi OS (amd64, arm64), 32-bit Raspberry Pi OS on a Pi 2
// and later (arm/v7) and on a Pi Zero or Pi 1 (arm/v6).
var Platforms = []Platform{
	{OS: "linux", Arch: "amd64"},
	{OS: "linux", Arch: "arm64"},
	{OS: "linux", Arch: "arm", Variant: "v7"},
	{OS: "linux", Arch: "arm", Variant: "v6"},
}

// The user every image runs as: not root, the uid distroless images use for
// theirs, numeric in the config so that a runtime's "must run as non-root"
// check can verify it without reading /etc/passwd.
const (
	UID      = 65532
	GID      = 65532
	UserName = "tributary"
)

// Spec describes one image.
type Spec struct {
	// Name is the image's name, without a tag: tributary-cloud.
	Name string
	// Command is the binary's name (its ./cmd directory), installed as
	// /usr/local/bin/<Command>, the image's entrypoint.
	Command string
	// Cmd are the default arguments, replaced by any the user gives.
	Cmd []string
	// StateDir, if set, is a directory the user owns (mode 0700), named in
	// $STATE_DIRECTORY and declared a volume, for state that must survive
	// a restart.
	StateDir string
	// Ports are the ports the default arguments listen on ("8080/tcp").
	Ports []string
	// Description is the image's org.opencontainers.image.description.
	Description string
}

// Entrypoint is the path of the binary in the image.
func (s Spec) Entrypoint() string { return "/usr/local/bin/" + s.Command }

// Images are Tributary's images.
var Images = []Spec{
	{
		Name:    "tributary-cloud",
		Command: "cloud",
		// The cloud listens on loopback by default; in a container that
		// is unreachable.
		Cmd:         []string{"--listen=0.0.0.0:8080"},
		Ports:       []string{"8080/tcp"},
		Description: "Tributary cloud service: dashboard, REST and WebSocket API over Redis, and the MQTT bridge with --mqtt",
	},
	{
		Name:        "tributary-bridge",
		Command:     "bridge",
		Cmd:         []string{"--metrics-listen=0.0.0.0:9465"},
		Ports:       []string{"9465/tcp"},
		Description: "Tributary MQTT bridge: device payloads from a broker into Redis",
	},
	{
		Name:    "tributary-edge",
		Command: "edge",
		// The sequence-number lease and the spool: on a volume, so that a
		// new container goes on where the last one stopped.
		StateDir:    "/var/lib/tributary-edge",
		Description: "Tributary edge agent: sensors (or --sim) to Redis or MQTT through an on-disk spool",
	},
}

// Lookup returns the spec of the image named name.
func Lookup(name string) (Spec, bool) {
	for _, s := range Images {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}
