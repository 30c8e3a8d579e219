package redistest

import "testing"

// A durable server keeps what it acknowledged across a crash; a plain one
// restarts empty.
func TestRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want int64
	}{
		{"plain", Options{}, 0},
		{"durable", Options{Durable: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, tc.opt)
			c := s.Client(t)
			if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			s.Kill()
			if err := c.Ping(t.Context()).Err(); err == nil {
				t.Fatal("the killed server answers")
			}
			s.Restart(t)
			if n, err := c.Exists(t.Context(), "k").Result(); err != nil || n != tc.want {
				t.Fatalf("after Kill and Restart: %d keys, %v; want %d", n, err, tc.want)
			}
		})
	}
}

// New reserves a server that is down until Restart.
func TestNewIsDown(t *testing.T) {
	s := New(t, Options{})
	c := s.Client(t)
	if err := c.Ping(t.Context()).Err(); err == nil {
		t.Fatal("a server from New answers before Restart")
	}
	s.Restart(t)
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
}
