package stores

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a length of time in config: a whole number of seconds, Geddy's
// unit (`expiry: 1209600`), or a Go duration string (`expiry: 336h`).
type Duration time.Duration

// ParseDuration parses s as seconds or as a Go duration string.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return 0, fmt.Errorf("%d seconds is out of range", n)
		}
		return Duration(time.Duration(n) * time.Second), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number of seconds or a duration like 336h", s)
	}
	return Duration(d), nil
}

// String returns d in Go's duration syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads seconds or a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want seconds or a duration like 336h", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML writes whole seconds as a number, anything else as a string.
func (d Duration) MarshalYAML() (any, error) { return d.value(), nil }

// UnmarshalJSON reads a number of seconds or a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil && len(b) > 0 && b[0] == '"' {
		s = uq
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes whole seconds as a number, anything else as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.value()) }

func (d Duration) value() any {
	if time.Duration(d)%time.Second == 0 {
		return int64(time.Duration(d) / time.Second)
	}
	return d.String()
}
