package reading

import "testing"

func BenchmarkAppendJSON(b *testing.B) {
	r := valid()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(validJSON)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
