// Package mosquittotest runs a real mosquitto broker for tests, on a free
// loopback port, with a configuration generated in a temporary directory. It
// never touches the machine's shared broker on 1883.
//
// Under -short (make test-unit) Start skips the test. Otherwise a missing
// /usr/sbin/mosquitto is a test failure, not a skip: `make test` installs it.
package mosquittotest

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/internal/proctest"
)

// Binary is where the broker is looked for first; then $PATH.
const Binary = "/usr/sbin/mosquitto"

// Options configure a broker. The zero value is a plain listener that
// accepts anonymous clients, without persistence.
type Options struct {
	// Users maps user names to passwords. When it is not empty, the broker
	// refuses anonymous clients and checks passwords against a password
	// file written with mosquitto_passwd (or, where that is missing, in its
	// PBKDF2-SHA512 format by WritePasswordFile).
	Users map[string]string
	// ACLFile is an acl_file to apply (copied into the broker's directory,
	// so the test can ship the real deploy/ file).
	ACLFile string
	// ConfigFile is a shipped mosquitto.conf (deploy/mosquitto) whose
	// settings the broker takes, all but those this package owns (listeners,
	// files and paths, TLS, authentication, persistence, logging; see
	// ownedSettings). They apply to the test's listener, after the options
	// above and before Extra. Use it with Users: the shipped file requires
	// a user name (use_username_as_clientid).
	ConfigFile string
	// TLSCertFile and TLSKeyFile make the listener speak only TLS with this
	// certificate and key (PEM; see internal/testcert).
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile, with TLS, makes the broker require a client
	// certificate signed by a CA in this PEM file.
	TLSClientCAFile string
	// Persistence keeps sessions, subscriptions and queued messages on disk,
	// so that they survive Stop and Restart (a Kill loses what was not yet
	// saved; the broker saves on a clean stop and every AutosaveInterval).
	Persistence bool
	// AutosaveInterval is how often (seconds) a persistent broker saves.
	// Default 1.
	AutosaveInterval int
	// MaxQueuedMessages caps the QoS 1 messages queued per offline or busy
	// client (mosquitto drops the rest silently). Default 100000 (mosquitto's
	// own default is 1000, too few for a fault test).
	MaxQueuedMessages int
	// LogTypes are the broker's log_type lines ("all" shows every packet,
	// denials included). Default error, warning, notice, information (which
	// includes connections).
	LogTypes []string
	// Extra lines appended to the generated mosquitto.conf.
	Extra []string
}

// Server is a running mosquitto. Start registers Close with t.Cleanup.
type Server struct {
	Port    int
	Dir     string // the broker's directory: config, password file, ACL, persistence
	opt     Options
	shipped []string // the settings taken from Options.ConfigFile
	proc    *proctest.Server
}

// Start starts a broker and closes it when the test ends. Under -short it
// skips the test; otherwise any failure, including a missing mosquitto
// binary, fails it.
func Start(tb testing.TB, opt Options) *Server {
	tb.Helper()
	proctest.SkipShort(tb, "mosquitto")
	s, err := StartServer(opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// StartServer starts a broker; the caller closes it. Use it from TestMain,
// where there is no testing.TB.
func StartServer(opt Options) (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	if opt.AutosaveInterval <= 0 {
		opt.AutosaveInterval = 1
	}
	if len(opt.LogTypes) == 0 {
		opt.LogTypes = []string{"error", "warning", "notice", "information"}
	}
	if opt.MaxQueuedMessages == 0 {
		opt.MaxQueuedMessages = 100000
	}
	dir, err := os.MkdirTemp("", "mosquittotest-")
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, Dir: dir}
	if err := s.writeFiles(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.proc, err = proctest.StartServer(proctest.ServerConfig{
		Name: "mosquitto",
		Command: func(port int) (*exec.Cmd, error) {
			conf := filepath.Join(s.Dir, "mosquitto.conf")
			if err := os.WriteFile(conf, []byte(s.config(port)), 0o600); err != nil {
				return nil, err
			}
			return exec.Command(bin, "-c", conf), nil
		},
		// "mosquitto version X running" comes after every listener is open.
		Ready: `mosquitto version .* running`,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mosquittotest: %w", err)
	}
	s.Port = s.proc.Port
	return s, nil
}

func binary() (string, error) {
	if _, err := os.Stat(Binary); err == nil {
		return Binary, nil
	}
	p, err := exec.LookPath("mosquitto")
	if err != nil {
		return "", fmt.Errorf("mosquittotest: mosquitto not found at %s or in $PATH (run `make test`, which installs it): %w", Binary, err)
	}
	return p, nil
}

// Addr is host:port of the listener.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is mqtt://host:port, or mqtts:// for a TLS listener.
func (s *Server) URL() string {
	if s.opt.TLSCertFile != "" {
		return "mqtts://" + s.Addr()
	}
	return "mqtt://" + s.Addr()
}

// Log returns what the broker has logged so far, over all its restarts (all
// log types, the last few thousand lines), for test failure messages.
func (s *Server) Log() string {
	return s.proc.Log.String()
}

func (s *Server) writeFiles() error {
	if len(s.opt.Users) > 0 {
		if err := WritePasswordFile(filepath.Join(s.Dir, "passwd"), s.opt.Users); err != nil {
			return err
		}
	}
	if s.opt.ConfigFile != "" {
		lines, err := shippedSettings(s.opt.ConfigFile)
		if err != nil {
			return err
		}
		s.shipped = lines
	}
	if s.opt.ACLFile != "" {
		b, err := os.ReadFile(s.opt.ACLFile)
		if err != nil {
			return fmt.Errorf("mosquittotest: ACL file: %w", err)
		}
		if err := os.WriteFile(filepath.Join(s.Dir, "acl"), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// config is the mosquitto.conf for port.
func (s *Server) config(port int) string {
	var c []string
	add := func(f string, a ...any) { c = append(c, fmt.Sprintf(f, a...)) }
	add("per_listener_settings false")
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		add("user root") // as root, mosquitto would switch to user mosquitto, who cannot read this directory
	}
	add("log_dest stderr")
	for _, t := range s.opt.LogTypes {
		add("log_type %s", t)
	}
	add("connection_messages true")
	add("max_queued_messages %d", s.opt.MaxQueuedMessages)
	if s.opt.Persistence {
		add("persistence true")
		add("persistence_location %s/", s.Dir)
		add("autosave_interval %d", s.opt.AutosaveInterval)
	} else {
		add("persistence false")
	}
	add("listener %d 127.0.0.1", port)
	if len(s.opt.Users) > 0 {
		add("allow_anonymous false")
		add("password_file %s", filepath.Join(s.Dir, "passwd"))
	} else {
		add("allow_anonymous true")
	}
	if s.opt.ACLFile != "" {
		add("acl_file %s", filepath.Join(s.Dir, "acl"))
	}
	if s.opt.TLSCertFile != "" {
		add("certfile %s", s.opt.TLSCertFile)
		add("keyfile %s", s.opt.TLSKeyFile)
		if s.opt.TLSClientCAFile != "" {
			add("cafile %s", s.opt.TLSClientCAFile)
			add("require_certificate true")
		}
	}
	c = append(c, s.shipped...)
	c = append(c, s.opt.Extra...)
	return strings.Join(c, "\n") + "\n"
}

// ownedSettings are the mosquitto.conf settings that Options.ConfigFile
// does not carry over: the harness decides them (a loopback listener on a
// free port, its own files, logs on stderr).
var ownedSettings = map[string]bool{
	"listener": true, "port": true, "bind_address": true, "bind_interface": true, "socket_domain": true, "protocol": true,
	"certfile": true, "keyfile": true, "cafile": true, "capath": true, "crlfile": true, "require_certificate": true,
	"tls_version": true, "ciphers": true, "ciphers_tls1.3": true, "use_identity_as_username": true,
	"use_subject_as_username": true, "psk_hint": true, "psk_file": true,
	"per_listener_settings": true, "allow_anonymous": true, "password_file": true, "acl_file": true,
	"plugin": true, "auth_plugin": true, // and every plugin_opt_* and auth_opt_*
	"persistence": true, "persistence_location": true, "persistence_file": true, "autosave_interval": true,
	"autosave_on_changes": true, "log_dest": true, "log_type": true, "log_timestamp": true,
	"log_timestamp_format": true, "connection_messages": true, "user": true, "pid_file": true, "include_dir": true,
}

// shippedSettings returns the lines of the mosquitto.conf at path that the
// harness carries over (those not in ownedSettings), comments dropped.
func shippedSettings(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mosquittotest: config file: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, _, _ := strings.Cut(l, " ")
		if !ownedSettings[name] && !strings.HasPrefix(name, "plugin_opt_") && !strings.HasPrefix(name, "auth_opt_") {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// Stop stops the broker cleanly (SIGTERM: a persistent broker saves its
// state) and waits for it to exit. It is safe to call more than once.
func (s *Server) Stop() { s.proc.Stop() }

// Kill stops the broker as a crash would (SIGKILL): a persistent broker
// loses what it changed since its last autosave.
func (s *Server) Kill() { s.proc.Kill() }

// Restart stops the broker (cleanly) if it runs and starts it again on the
// same port, with the same configuration and, with Persistence, the same
// saved state.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.proc.Start(); err != nil {
		tb.Fatalf("mosquittotest: %v", err)
	}
}

// Close stops the broker and removes its directory.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// WritePasswordFile writes a mosquitto password_file for users (name to
// password), mode 0600. It uses mosquitto_passwd when it is installed and
// otherwise writes the same format itself (WritePasswordFileGo).
func WritePasswordFile(path string, users map[string]string) error {
	tool, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		return WritePasswordFileGo(path, users)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
	for _, name := range sortedKeys(users) {
		// -b takes the password on the command line: fine for a test's
		// throwaway passwords.
		out, err := exec.Command(tool, "-b", path, name, users[name]).CombinedOutput()
		if err != nil {
			return fmt.Errorf("mosquittotest: mosquitto_passwd %s: %v: %s", name, err, out)
		}
	}
	return nil
}

// PasswordIterations is the PBKDF2 iteration count mosquitto 2.0's
// mosquitto_passwd uses.
const PasswordIterations = 101

// WritePasswordFileGo writes a password_file in mosquitto 2.0's format
// without mosquitto_passwd: one "name:$7$<iterations>$<salt>$<hash>" line per
// user, where hash is PBKDF2-HMAC-SHA512 of the password with a random
// 12-byte salt, 64 bytes long, both in standard base64.
func WritePasswordFileGo(path string, users map[string]string) error {
	var b strings.Builder
	for _, name := range sortedKeys(users) {
		if strings.ContainsAny(name, ":\n") {
			return fmt.Errorf("mosquittotest: user name %q contains ':' or a newline", name)
		}
		line, err := passwordLine(name, users[name])
		if err != nil {
			return err
		}
		b.WriteString(line + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func passwordLine(name, password string) (string, error) {
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	hash, err := pbkdf2.Key(sha512.New, password, salt, PasswordIterations, sha512.Size)
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding
	return name + ":$7$" + strconv.Itoa(PasswordIterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(hash), nil
}

// CheckPasswordLine reports whether password matches one line of a password
// file in the $7$ format (for testing WritePasswordFileGo against lines
// written by mosquitto_passwd).
func CheckPasswordLine(line, password string) (bool, error) {
	_, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
	parts := strings.Split(rest, "$")
	if !ok || len(parts) != 5 || parts[1] != "7" {
		return false, errors.New("mosquittotest: not a $7$ password line")
	}
	iter, err := strconv.Atoi(parts[2])
	if err != nil {
		return false, err
	}
	salt, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return false, err
	}
	want, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	got, err := pbkdf2.Key(sha512.New, password, salt, iter, len(want))
	if err != nil {
		return false, err
	}
	return string(got) == string(want), nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
