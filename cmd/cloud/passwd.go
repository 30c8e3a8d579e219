package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/tributary-iot/tributary/internal/cli"
	"github.com/tributary-iot/tributary/reading"
)

// passwdCost is the bcrypt cost of the hashes runPasswd writes: about 50 ms
// on a laptop, once per account and password (the cloud remembers a
// successful check).
const passwdCost = 11

// runPasswd is "cloud passwd NAME": it reads a password from the first line
// of stdin and prints an --auth-users line for NAME (htpasswd -B's format),
// for machines without htpasswd:
//
//	cloud passwd alice < alice.pw >> users
func runPasswd(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return cli.UsageError{Err: errors.New("usage: cloud passwd NAME < password-file (prints NAME:bcrypt-hash for --auth-users)")}
	}
	name := args[0]
	if !reading.ValidID(name) {
		return cli.UsageError{Err: fmt.Errorf("account name %q: want 1 to %d letters, digits, '.', '_' or '-'", name, reading.MaxIDLen)}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("passwd: read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 12 {
		return cli.UsageError{Err: errors.New("passwd: give a password of at least 12 characters on standard input")}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), passwdCost)
	if err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s:%s\n", name, hash)
	return err
}
