// Package secret reads passwords from files, so that they stay off command
// lines and out of environment listings.
package secret

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// ReadFile returns the secret in path without its trailing newline. An
// empty secret is an error: it is always a mistake (a file not yet filled).
// Errors name the file, never its content.
func ReadFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// RedactURL returns raw, a server URL, fit for logs and errors: a password
// in its user info is replaced by "xxxxx", and anything before an '@' that
// the URL parser did not take for user info (a mistyped "mqtt:/u:pw@host")
// is masked whole. An unparsable URL is "(unparsable URL)".
func RedactURL(raw string) string {
	p, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	s := p.Redacted()
	if p.User == nil || strings.Count(s, "@") > 1 || p.RawQuery != "" || p.Fragment != "" {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			start := 0 // without "scheme://", all of it may be user info
			if j := strings.Index(s, "://"); j >= 0 && j < i {
				start = j + 3
			}
			s = s[:start] + "xxxxx" + s[i:]
		}
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i] + "?xxxxx"
		}
	}
	return s
}
