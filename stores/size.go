package stores

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Size is an amount of memory in config: a number of bytes (`maxBytes:
// 268435456`), or a number with a unit, KiB, MiB or GiB (`maxBytes:
// 256MiB`); -1 means no bound.
type Size int64

var sizeUnits = []struct {
	suffix string
	n      int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseSize parses s as bytes, or a number with a unit (KiB, MiB, GiB).
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = strings.TrimSpace(num), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1 || unit > 1 && n > (1<<62)/unit {
		return 0, fmt.Errorf("%q is not a number of bytes like 268435456 or 256MiB (-1: no bound)", s)
	}
	if n == -1 {
		return -1, nil
	}
	return Size(n * unit), nil
}

// String returns s in the largest unit that divides it.
func (s Size) String() string {
	for _, u := range sizeUnits {
		if s > 0 && int64(s)%u.n == 0 {
			return strconv.FormatInt(int64(s)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// UnmarshalYAML reads bytes or a number with a unit.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want bytes or a size like 256MiB", n.Line)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// UnmarshalJSON reads a number of bytes or a string with a unit.
func (s *Size) UnmarshalJSON(b []byte) error {
	str := string(b)
	if uq, err := strconv.Unquote(str); err == nil && len(b) > 0 && b[0] == '"' {
		str = uq
	}
	v, err := ParseSize(str)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalJSON writes the size as a string with its unit.
func (s Size) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
