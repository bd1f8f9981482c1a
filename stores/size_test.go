package stores

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"268435456": 256 << 20, "256MiB": 256 << 20, "1 GiB": 1 << 30, "64KiB": 64 << 10, "0": 0, "-1": -1, "12B": 12} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "1.5GiB", "-2", "256MB", "99999999999GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	if s := Size(256 << 20).String(); s != "256MiB" {
		t.Errorf("String = %q", s)
	}
}
