package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/internal/testcert"
	"github.com/tributary-iot/tributary/store"
)

func TestClientTLSAndPassword(t *testing.T) {
	const secret = "s3cret-Pa55"
	certs := testcert.New(t)
	srv := redistest.Start(t, redistest.Options{Password: secret, TLSCertFile: certs.Cert, TLSKeyFile: certs.Key, TLSCAFile: certs.CA})
	ctx := context.Background()
	ping := func(o store.ClientOptions) error {
		c, err := store.NewClient(o)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	url := "rediss://:" + secret + "@" + srv.Addr()
	if err := ping(store.ClientOptions{URL: url, CAFile: certs.CA}); err != nil {
		t.Fatalf("TLS with the right CA and password: %v", err)
	}
	// The password can come apart from the URL (from a file or environment).
	if err := ping(store.ClientOptions{URL: "rediss://" + srv.Addr(), CAFile: certs.CA, Password: secret}); err != nil {
		t.Fatalf("password option: %v", err)
	}
	if err := ping(store.ClientOptions{URL: url}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA accepted: %v", err)
	}
	err := ping(store.ClientOptions{URL: "rediss://:wrong@" + srv.Addr(), CAFile: certs.CA})
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := ping(store.ClientOptions{URL: "redis://" + srv.Addr()}); err == nil {
		t.Fatal("plain TCP to a TLS-only server succeeded")
	}
}

func TestClientOptionErrorsHideSecrets(t *testing.T) {
	const secret = "hunter2xyz"
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a cert"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, o := range []store.ClientOptions{
		{URL: "redis://:" + secret + "@127.0.0.1:1/notadb"},
		{URL: "rediss://:" + secret + "@127.0.0.1:1", CAFile: bad},
		{URL: "redis://:" + secret + "@127.0.0.1:1", CAFile: bad},
	} {
		_, err := store.NewClient(o)
		if err == nil {
			t.Fatalf("NewClient(%s) succeeded", store.RedactURL(o.URL))
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the password: %v", err)
		}
	}
	if got := store.RedactURL("rediss://user:" + secret + "@h:6380/2"); got != "rediss://user:xxxxx@h:6380/2" {
		t.Fatalf("RedactURL = %s", got)
	}
}
