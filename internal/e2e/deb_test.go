package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestDebPackage builds the edge's Debian package (for this machine's
// architecture, with deploy/deb/build.sh as `make deb` does), checks it with
// dpkg-deb (fields, files and their modes, conffiles, maintainer scripts,
// the unit's paths), then installs it with dpkg into a throwaway root
// (dpkg --root, maintainer scripts run outside it with $DPKG_ROOT):
// postinst makes the user, the groups and the state dir and passes `edge
// check`; a config with a mistake fails the configuration loudly and
// `dpkg --configure -a` finishes it once fixed; removal keeps the state and
// the config, purge deletes both. Needs root (dpkg --root, useradd --root)
// and dpkg-deb.
func TestDebPackage(t *testing.T) {
	edge := bins.Path(t, modulePath+"/cmd/edge")
	for _, c := range []string{"dpkg", "dpkg-deb", "dpkg-query", "useradd", "groupadd"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s not found: the package test needs dpkg and passwd (Debian)", c)
		}
	}
	if os.Getuid() != 0 {
		t.Fatal("the package test installs into a throwaway root with dpkg --root and useradd --root, which need root")
	}
	arch := strings.TrimSpace(cmdOutput(t, "dpkg", "--print-architecture"))

	out := t.TempDir()
	cmd := exec.Command("../../deploy/deb/build.sh", arch, edge, "v1.2.3-4-gabc123", out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1764720000")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	deb := strings.TrimSpace(string(b))
	if want := filepath.Join(out, "tributary-edge_1.2.3+4.gabc123_"+arch+".deb"); deb != want {
		t.Fatalf("build.sh wrote %q, want %q", deb, want)
	}

	// Fields.
	for field, want := range map[string]string{
		"Package": "tributary-edge", "Version": "1.2.3+4.gabc123", "Architecture": arch, "Depends": "passwd",
	} {
		if got := strings.TrimSpace(cmdOutput(t, "dpkg-deb", "--field", deb, field)); got != want {
			t.Errorf("field %s = %q, want %q", field, got, want)
		}
	}
	// Maintainer scripts, executable; the config a conffile.
	info := cmdOutput(t, "dpkg-deb", "--info", deb)
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if !regexp.MustCompile(`lines\s+\*\s+` + s + `\s+#!/bin/sh`).MatchString(info) {
			t.Errorf("dpkg-deb --info: no executable %s with #!/bin/sh:\n%s", s, info)
		}
	}
	if got := cmdOutput(t, "dpkg-deb", "--info", deb, "conffiles"); got != "/etc/tributary/edge.yaml\n" {
		t.Errorf("conffiles %q", got)
	}
	// Files, modes, owners.
	contents := cmdOutput(t, "dpkg-deb", "--contents", deb)
	for path, mode := range map[string]string{
		"./usr/bin/tributary-edge":                                   "-rwxr-xr-x",
		"./usr/lib/systemd/system/tributary-edge.service":            "-rw-r--r--",
		"./etc/tributary/edge.yaml":                                  "-rw-r--r--",
		"./usr/share/doc/tributary-edge/copyright":                   "-rw-r--r--",
		"./usr/share/doc/tributary-edge/changelog.gz":                "-rw-r--r--",
		"./usr/share/doc/tributary-edge/examples/pi-greenhouse.yaml": "-rw-r--r--",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(mode) + ` root/root .* ` + regexp.QuoteMeta(path) + `$`).MatchString(contents) {
			t.Errorf("dpkg-deb --contents: no %s %s root/root:\n%s", mode, path, contents)
		}
	}
	unit := fileInDeb(t, deb, "./usr/lib/systemd/system/tributary-edge.service")
	if !strings.Contains(unit, "\nExecStart=/usr/bin/tributary-edge --config /etc/tributary/edge.yaml") ||
		strings.Contains(unit, "/usr/local/bin") || !strings.Contains(unit, "\nStateDirectory=tributary-edge\n") {
		t.Errorf("the unit's paths:\n%s", unit)
	}

	// Install into a throwaway root.
	root := t.TempDir()
	for name, data := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\n",
		"etc/shadow": "", "etc/gshadow": "", "var/lib/dpkg/status": "",
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dpkg := func(args ...string) (string, error) {
		cmd := exec.Command("dpkg", append([]string{"--root=" + root, "--force-script-chrootless",
			"--force-depends", "--log=/dev/null"}, args...)...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	status := func() string {
		return cmdOutput(t, "dpkg-query", "--root="+root, "-W", "-f", "${Status}", "tributary-edge")
	}

	o, err := dpkg("-i", deb)
	if err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, o)
	}
	for _, want := range []string{"/etc/tributary/edge.yaml: valid", "installed but not started", "systemctl enable --now tributary-edge"} {
		if !strings.Contains(o, want) {
			t.Errorf("dpkg -i output lacks %q:\n%s", want, o)
		}
	}
	if s := status(); s != "install ok installed" {
		t.Fatalf("status after install %q", s)
	}
	user := passwdEntry(t, filepath.Join(root, "etc/passwd"), "tributary")
	if len(user) != 7 || user[5] != "/nonexistent" || user[6] != "/usr/sbin/nologin" {
		t.Errorf("the user: %q", user)
	}
	uid, _ := strconv.Atoi(user[2])
	gid, _ := strconv.Atoi(user[3])
	for _, g := range []string{"tributary", "i2c", "gpio"} {
		passwdEntry(t, filepath.Join(root, "etc/group"), g)
	}
	if got := passwdEntry(t, filepath.Join(root, "etc/group"), "tributary")[2]; got != user[3] {
		t.Errorf("group tributary %s, the user's %s", got, user[3])
	}
	checkOwner(t, filepath.Join(root, "var/lib/tributary-edge"), os.ModeDir|0o700, uid, gid)
	checkOwner(t, filepath.Join(root, "etc/tributary"), os.ModeDir|0o750, 0, gid)
	checkOwner(t, filepath.Join(root, "etc/tributary/edge.yaml"), 0o640, 0, gid)
	if _, err := os.Stat(filepath.Join(root, "usr/bin/tributary-edge")); err != nil {
		t.Error(err)
	}

	// A config with a mistake: configuring fails, saying what to do.
	conf := filepath.Join(root, "etc/tributary/edge.yaml")
	good, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, append(bytes.Clone(good), "no_such_key: 1\n"...), 0o640); err != nil {
		t.Fatal(err)
	}
	o, err = dpkg("-i", deb)
	if err == nil {
		t.Fatalf("dpkg -i with a config that fails the check succeeded:\n%s", o)
	}
	for _, want := range []string{"no_such_key", "fails `tributary-edge check`", "sudo dpkg --configure -a"} {
		if !strings.Contains(o, want) {
			t.Errorf("the failed configuration's output lacks %q:\n%s", want, o)
		}
	}
	if s := status(); s != "install ok half-configured" {
		t.Errorf("status after a failed check %q, want half-configured", s)
	}
	if err := os.WriteFile(conf, good, 0o640); err != nil {
		t.Fatal(err)
	}
	if o, err := dpkg("--configure", "-a"); err != nil {
		t.Fatalf("dpkg --configure -a with the config fixed: %v\n%s", err, o)
	}
	if s := status(); s != "install ok installed" {
		t.Errorf("status after the fix %q", s)
	}

	// Removal keeps the agent's state (its unsent readings) and the config.
	spooled := filepath.Join(root, "var/lib/tributary-edge/spool-marker")
	if err := os.WriteFile(spooled, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o, err := dpkg("-r", "tributary-edge"); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, o)
	}
	if s := status(); s != "deinstall ok config-files" {
		t.Errorf("status after remove %q", s)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/tributary-edge")); !os.IsNotExist(err) {
		t.Errorf("the binary after remove: %v", err)
	}
	for _, f := range []string{spooled, conf} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after remove: %v", err)
		}
	}
	// Purge deletes them.
	if o, err := dpkg("-P", "tributary-edge"); err != nil {
		t.Fatalf("dpkg -P: %v\n%s", err, o)
	}
	for _, f := range []string{filepath.Join(root, "var/lib/tributary-edge"), conf} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s after purge: %v", f, err)
		}
	}
}

// cmdOutput runs a command and returns its standard output, failing the test
// with its standard error if it fails.
func cmdOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.String())
	}
	return string(b)
}

// passwdEntry returns the fields of the line of name in a passwd or group file.
func passwdEntry(t *testing.T, file, name string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Split(sc.Text(), ":"); fields[0] == name {
			return fields
		}
	}
	t.Fatalf("%s has no %s", file, name)
	return nil
}

func checkOwner(t *testing.T, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: %v %d:%d, want %v %d:%d", path, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
	}
}

// fileInDeb returns the contents of one file of the package.
func fileInDeb(t *testing.T, deb, name string) string {
	t.Helper()
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile: %v", err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s has no %s", deb, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
	}
}
