package web

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/tributary-iot/tributary/command"
)

// User is an account of HTTP Basic authentication whose password is kept
// as a bcrypt hash, as a line of an htpasswd file: `name:$2y$10$...`
// (`htpasswd -B`).
type User struct {
	Name string
	Hash string // bcrypt: $2a$, $2b$ or $2y$, cost at most MaxBcryptCost
}

// MaxBcryptCost is the highest bcrypt cost accepted: one verification at
// cost 15 takes seconds on a small machine.
const MaxBcryptCost = 15

// ReadUsers parses an htpasswd file: one `name:hash` a line, bcrypt hashes
// only; blank lines and lines starting with # are skipped. A name is 1 to
// command.MaxByLen bytes of printable UTF-8 without ':'; each appears
// once. Errors name the line, never a hash.
func ReadUsers(r io.Reader) ([]User, error) {
	var users []User
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: want name:hash", n)
		}
		if err := checkUserName(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first, dup := seen[name]; dup {
			return nil, fmt.Errorf("line %d: user %q again (first on line %d)", n, name, first)
		}
		seen[name] = n
		if err := checkHash(hash); err != nil {
			return nil, fmt.Errorf("line %d: user %q: %w", n, name, err)
		}
		users = append(users, User{Name: name, Hash: hash})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return users, nil
}

// LoadUsers reads the htpasswd file at path (ReadUsers). An empty file
// is an error: it would let nobody in.
func LoadUsers(path string) ([]User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	users, err := ReadUsers(io.LimitReader(f, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return users, nil
}

// checkUserName accepts what can name a command's sender (command.By).
func checkUserName(name string) error {
	switch {
	case name == "":
		return errors.New("empty user name")
	case len(name) > command.MaxByLen:
		return fmt.Errorf("user name %s longer than %d bytes", clipQuote(name, 40), command.MaxByLen)
	case !utf8.ValidString(name):
		return errors.New("user name is not UTF-8")
	case strings.ContainsRune(name, ':'):
		return fmt.Errorf("user name %s holds ':'", clipQuote(name, 40))
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("user name %s holds a control character", clipQuote(name, 40))
		}
	}
	return nil
}

func checkHash(hash string) error {
	if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
		return errors.New("not a bcrypt hash: only bcrypt is supported (htpasswd -B)")
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return fmt.Errorf("malformed bcrypt hash: %v", err)
	}
	if cost > MaxBcryptCost {
		return fmt.Errorf("bcrypt cost %d above %d: each login would take too long", cost, MaxBcryptCost)
	}
	return nil
}

// identity is who made a request, as authentication established it.
type identity struct {
	user     string // "" without authentication
	operator bool   // may send commands
}

type identityKey struct{}

// identityOf returns the identity the authentication gave r; without
// authentication, the server's anonymous identity.
func (s *server) identityOf(r *http.Request) identity {
	if id, ok := r.Context().Value(identityKey{}).(identity); ok {
		return id
	}
	return identity{operator: s.opt.OpenCommands && !s.accounts.enabled()}
}

// accounts checks credentials: the one account of Options.AuthUser (its
// password compared in constant time) and Options.Users (bcrypt). A
// successful bcrypt verification is remembered, keyed by the user and
// the SHA-256 of the password, so that a signed-in user's requests cost
// no bcrypt; failures are never remembered. At most maxBcrypt
// verifications run at once, so that guesses cannot take every core. It is
// safe for concurrent use.
type accounts struct {
	single                 bool
	singleUser, singlePass [32]byte // SHA-256 digests
	singleName             string
	users                  map[string][]byte // name -> bcrypt hash
	operators              map[string]bool
	dummy                  []byte        // a hash to verify unknown users against
	bcryptSem              chan struct{} // verification slots

	bcrypts atomic.Uint64 // verifications run, for tests

	mu       sync.Mutex
	verified map[verifiedKey]struct{}
}

type verifiedKey struct {
	user string
	pass [32]byte
}

const (
	maxBcrypt   = 2
	maxVerified = 4096 // remembered verifications; only correct ones are, so a few per user
)

func newAccounts(opt *Options) (*accounts, error) {
	a := &accounts{users: map[string][]byte{}, operators: map[string]bool{}, verified: map[verifiedKey]struct{}{},
		bcryptSem: make(chan struct{}, maxBcrypt)}
	if opt.AuthUser != "" {
		if err := checkUserName(opt.AuthUser); err != nil {
			return nil, fmt.Errorf("web: Options.AuthUser: %w", err)
		}
		a.single, a.singleName = true, opt.AuthUser
		a.singleUser = sha256.Sum256([]byte(opt.AuthUser))
		a.singlePass = sha256.Sum256([]byte(opt.AuthPassword))
	}
	for _, u := range opt.Users {
		if err := checkUserName(u.Name); err != nil {
			return nil, fmt.Errorf("web: Options.Users: %w", err)
		}
		if err := checkHash(u.Hash); err != nil {
			return nil, fmt.Errorf("web: Options.Users: user %q: %w", u.Name, err)
		}
		if _, dup := a.users[u.Name]; dup || u.Name == opt.AuthUser {
			return nil, fmt.Errorf("web: user %q is defined twice", u.Name)
		}
		a.users[u.Name] = []byte(u.Hash)
	}
	for _, name := range opt.Operators {
		if _, ok := a.users[name]; !ok && (!a.single || name != a.singleName) {
			return nil, fmt.Errorf("web: operator %q is not a user: name an account of AuthUser or Users", name)
		}
		a.operators[name] = true
	}
	if len(a.users) > 0 {
		// Same cost as the first user's: an unknown name takes as long as a
		// wrong password.
		var first []byte
		for _, h := range a.users {
			first = h
			break
		}
		cost, _ := bcrypt.Cost(first) // checked above
		var err error
		if a.dummy, err = bcrypt.GenerateFromPassword([]byte("no such user"), cost); err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
	}
	return a, nil
}

// enabled reports whether any account is configured.
func (a *accounts) enabled() bool { return a.single || len(a.users) > 0 }

// check verifies user and password; it fails with ctx's error if ctx
// ends while waiting for a verification slot.
func (a *accounts) check(ctx context.Context, user, password string) (identity, bool, error) {
	if a.single {
		gotUser := sha256.Sum256([]byte(user))
		gotPass := sha256.Sum256([]byte(password))
		if subtle.ConstantTimeCompare(gotUser[:], a.singleUser[:])&subtle.ConstantTimeCompare(gotPass[:], a.singlePass[:]) == 1 {
			return identity{user: user, operator: a.operators[user]}, true, nil
		}
	}
	if len(a.users) == 0 {
		return identity{}, false, nil
	}
	key := verifiedKey{user: user, pass: sha256.Sum256([]byte(password))}
	a.mu.Lock()
	_, known := a.verified[key]
	a.mu.Unlock()
	if known {
		return identity{user: user, operator: a.operators[user]}, true, nil
	}
	hash, exists := a.users[user]
	if !exists {
		hash = a.dummy
	}
	select {
	case a.bcryptSem <- struct{}{}:
	case <-ctx.Done():
		return identity{}, false, ctx.Err()
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	<-a.bcryptSem
	a.bcrypts.Add(1)
	if err != nil || !exists {
		return identity{}, false, nil
	}
	a.mu.Lock()
	if len(a.verified) >= maxVerified {
		clear(a.verified)
	}
	a.verified[key] = struct{}{}
	a.mu.Unlock()
	return identity{user: user, operator: a.operators[user]}, true, nil
}
