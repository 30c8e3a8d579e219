package cli

import (
	"fmt"
	"net"
	"net/url"
	"os"
)

// AllowedHosts returns the hosts a server's requests may name: given (the
// --allowed-host flags) if any, else the loopback names, the listen
// address's host (for an unspecified address, this machine's name and
// addresses); the hosts of the public origins either way.
func AllowedHosts(given, origins []string, listen string) ([]string, error) {
	var public []string
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Hostname() == "" {
			return nil, fmt.Errorf("--public-origin %q: want scheme://host[:port]", o)
		}
		public = append(public, u.Hostname())
	}
	if len(given) > 0 {
		return append(given, public...), nil
	}
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, public...)
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return append(hosts, host), nil
	}
	// Every address: the names this machine is reached by.
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list this machine's addresses for --allowed-host: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			hosts = append(hosts, n.IP.String())
		}
	}
	return hosts, nil
}

// IsLoopback reports whether a listen address only accepts local
// connections.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
