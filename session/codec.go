package session

import (
	"encoding/json"
	"strconv"
)

// Codec encodes session values. Set calls Encode at once, so an encoding
// error reaches the caller of Set; Get calls Decode into the caller's type.
type Codec interface {
	Encode(v any) ([]byte, error)
	Decode(data []byte, v any) error
}

// JSON is the default Codec: what a server-side store holds stays readable
// from other languages, and no type needs registering.
//
// Integers, booleans and printable ASCII strings, the values sessions hold
// most (counters, user IDs, flags, tokens), take a direct path that writes
// and reads the same bytes as encoding/json at a fraction of its cost (no
// reflection, no allocation but the result); everything else goes through
// encoding/json.
type JSON struct{}

// Encode implements Codec.
func (JSON) Encode(v any) ([]byte, error) {
	if b, ok := appendPlainJSON(nil, v); ok {
		return b, nil
	}
	return json.Marshal(v)
}

// Decode implements Codec.
func (JSON) Decode(data []byte, v any) error {
	if decodePlainJSON(data, v) {
		return nil
	}
	return json.Unmarshal(data, v)
}

// appendPlainJSON appends v as encoding/json would write it when v is an
// integer, a bool or a plain string, and reports whether it did.
func appendPlainJSON(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), true
	case bool:
		return strconv.AppendBool(b, x), true
	case string:
		if plainString(x) {
			return append(append(append(b, '"'), x...), '"'), true
		}
	}
	return b, false
}

// plainString reports whether encoding/json writes s as it is between
// quotes: printable ASCII without the characters it escapes (the quote and
// backslash, and <, > and & for HTML safety).
func plainString[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decodePlainJSON decodes data into v when v is a *int, *int64, *bool or
// *string and data is in the canonical form appendPlainJSON writes, and
// reports whether it did. Anything else (white space, exponents, escapes,
// null, overflow) is left to encoding/json, which also gives the errors.
func decodePlainJSON(data []byte, v any) bool {
	switch p := v.(type) {
	case *int:
		n, ok := parseJSONInt(data, strconv.IntSize)
		if ok {
			*p = int(n)
		}
		return ok
	case *int64:
		n, ok := parseJSONInt(data, 64)
		if ok {
			*p = n
		}
		return ok
	case *bool:
		if t := string(data) == "true"; t || string(data) == "false" {
			*p = t
			return true
		}
	case *string:
		if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' {
			inner := data[1 : len(data)-1]
			if plainString(inner) {
				*p = string(inner)
				return true
			}
		}
	}
	return false
}

// parseJSONInt parses a JSON integer without exponent, fraction or leading
// zeros that fits in a signed integer of size bits.
func parseJSONInt(data []byte, size int) (int64, bool) {
	neg := len(data) > 0 && data[0] == '-'
	digits := data
	if neg {
		digits = data[1:]
	}
	if len(digits) == 0 || len(digits) > 19 || digits[0] == '0' && len(digits) > 1 {
		return 0, false
	}
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0') // 19 digits cannot overflow a uint64
	}
	limit := uint64(1) << (size - 1) // |min|; max is limit-1
	if neg && n > limit || !neg && n >= limit {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}
