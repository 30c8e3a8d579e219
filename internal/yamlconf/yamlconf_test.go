package yamlconf

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestLine(t *testing.T) {
	doc := "a: 1\nlist:\n  - x: 2\n    y: 3\n  - x: 4\n"
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path []string
		want int
	}{
		{[]string{"a"}, 1},
		{[]string{"list"}, 3},
		{[]string{"list", "0", "y"}, 4},
		{[]string{"list", "1"}, 5},
		{[]string{"list", "7"}, 3},   // past the end: the list
		{[]string{"nope"}, 1},        // missing key: the mapping
		{[]string{"a", "deeper"}, 1}, // through a scalar
	} {
		if got := Line(&root, tc.path...); got != tc.want {
			t.Errorf("Line(%q) = %d, want %d", tc.path, got, tc.want)
		}
	}
}

func TestPlainError(t *testing.T) {
	var v struct {
		Every time.Duration `yaml:"every"`
		N     int           `yaml:"n"`
	}
	for _, tc := range []struct{ doc, want string }{
		{"every: 5\n", `line 1: "5" is not a duration: give a unit, such as 5s, 500ms or 1m`},
		{"n: many\n", `line 1: "many" is the wrong kind of value here (str)`},
	} {
		err := yaml.Unmarshal([]byte(tc.doc), &v)
		if err == nil {
			t.Fatalf("%q decoded", tc.doc)
		}
		if got := PlainError(err.Error(), ""); got != tc.want {
			t.Errorf("PlainError(%q) = %q, want %q", err, got, tc.want)
		}
	}
	got := PlainError("yaml: unmarshal errors:\n  line 3: field colour not found in type main.fileConfig", "see the example")
	if want := `line 3: unknown key "colour" (see the example)`; got != want {
		t.Errorf("unknown key: %q, want %q", got, want)
	}
}
