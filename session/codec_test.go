package session_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

// The JSON codec's direct path must be invisible: the same bytes as
// encoding/json for every value, and the same result for every input.
func TestJSONEncodeMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{
		0, 1, -1, 41, math.MaxInt64, math.MinInt64, int64(-7), int32(math.MinInt32), uint(7), uint64(math.MaxUint64),
		true, false, "", "ada", "Your changes were saved.", "a\"b", `back\slash`, "<script>", "a&b", "tab\t",
		"é", "\u2028", "\xff", nil, 1.5, []int{1}, map[string]int{"a": 1}, struct{ A int }{1},
	} {
		want, _ := json.Marshal(v)
		got, err := session.JSON{}.Encode(v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Encode(%#v) = %s, %v; encoding/json writes %s", v, got, err, want)
		}
	}
}

func TestJSONDecodeMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		"0", "41", "-41", "-0", "007", "1e2", "1.0", " 1", "1 ", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "99999999999999999999", "-", "", "null", "true", "false",
		"tru", `"ada"`, `"a\"b"`, `"\u00e9"`, `"é"`, `"<>&"`, `"`, `""`, `"x`, "[1]",
	} {
		for _, target := range []func() any{
			func() any { return new(int) }, func() any { return new(int64) },
			func() any { return new(bool) }, func() any { return new(string) },
		} {
			want, got := target(), target()
			wantErr := json.Unmarshal([]byte(in), want)
			gotErr := session.JSON{}.Decode([]byte(in), got)
			if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("Decode(%q) into %T = %v, %v; encoding/json gives %v, %v",
					in, got, reflect.ValueOf(got).Elem(), gotErr, reflect.ValueOf(want).Elem(), wantErr)
			}
		}
	}
}

func FuzzJSONDecode(f *testing.F) {
	for _, seed := range []string{"41", "-0", `"ada"`, "true", "1e3", "9223372036854775808", `"\n"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, target := range []func() any{
			func() any { return new(int) }, func() any { return new(int64) },
			func() any { return new(bool) }, func() any { return new(string) },
		} {
			want, got := target(), target()
			wantErr := json.Unmarshal(in, want)
			gotErr := session.JSON{}.Decode(in, got)
			if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("Decode(%q) into %T = %v, %v; encoding/json gives %v, %v",
					in, got, reflect.ValueOf(got).Elem(), gotErr, reflect.ValueOf(want).Elem(), wantErr)
			}
		}
	})
}

func FuzzJSONEncode(f *testing.F) {
	f.Add(int64(41), "ada", true)
	f.Add(int64(math.MinInt64), "<\"é\">", false)
	f.Fuzz(func(t *testing.T, n int64, s string, b bool) {
		for _, v := range []any{n, int(n), uint64(n), s, b} {
			want, _ := json.Marshal(v)
			if got, err := (session.JSON{}).Encode(v); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Encode(%#v) = %s, %v; encoding/json writes %s", v, got, err, want)
			}
		}
	})
}
