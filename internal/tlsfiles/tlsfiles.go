// Package tlsfiles loads the PEM files a TLS client is given on the command
// line (a CA bundle, a client certificate and key) into a tls.Config: the
// one way the Redis client, the MQTT uplink and the bridge do it.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// Apply sets c.RootCAs from caFile and c.Certificates from certFile and
// keyFile; an empty name leaves that part alone. Errors read "CA: ...",
// "CA <file>: no PEM certificate in it" or "client certificate: ...", for
// the caller to prefix with what the TLS is for.
func Apply(c *tls.Config, caFile, certFile, keyFile string) error {
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("CA %s: no PEM certificate in it", caFile)
		}
		c.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return nil
}
