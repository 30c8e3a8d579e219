package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/web"
)

func TestPasswdWritesAUsersLine(t *testing.T) {
	var out bytes.Buffer
	if err := runPasswd([]string{"alice"}, strings.NewReader("correct horse battery\n"), &out); err != nil {
		t.Fatal(err)
	}
	users, err := web.ReadUsers(&out)
	if err != nil || len(users) != 1 || users[0].Name != "alice" {
		t.Fatalf("the line does not read back as one account alice: %+v, %v", users, err)
	}
	for _, tc := range []struct {
		args []string
		pw   string
	}{
		{[]string{}, "correct horse battery"},
		{[]string{"al ice"}, "correct horse battery"},
		{[]string{"alice"}, "short"},
	} {
		if err := runPasswd(tc.args, strings.NewReader(tc.pw), &out); err == nil {
			t.Errorf("passwd %q with %q: no error", tc.args, tc.pw)
		}
	}
}
