// Package secret reads passwords from files, so that they stay off command
// lines and out of environment listings.
package secret

import (
	"fmt"
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
