package stores

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFileBytes bounds a config file: anything larger is not a config file.
const maxFileBytes = 1 << 20

// Load reads the sessions block of a YAML (.yaml, .yml) or JSON (.json) file
// on top of DefaultConfig. Other top-level keys are ignored (the file may be
// the whole application's config); unknown keys inside sessions are errors,
// so a typo does not silently fall back to a default. Load does not apply the
// environment or validate: call ApplyEnv and Validate (Open validates).
func Load(path string) (Config, error) {
	format, err := formatOf(path)
	if err != nil {
		return Config{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("stores: load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("stores: load config %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return Config{}, fmt.Errorf("stores: load config %s: larger than %d bytes", path, maxFileBytes)
	}
	cfg, err := Parse(data, format)
	if err != nil {
		return Config{}, fmt.Errorf("stores: load config %s: %w", path, err)
	}
	return cfg, nil
}

func formatOf(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".yaml", ".yml":
		return "yaml", nil
	case ".json":
		return "json", nil
	default:
		return "", fmt.Errorf("stores: load config %s: unknown extension %q; want .yaml, .yml or .json", path, ext)
	}
}

// errNoBlock is returned when a config has no sessions block.
var errNoBlock = errors.New("no top-level \"sessions\" block (a mapping of the session settings)")

// Parse decodes the sessions block of data, in format "yaml" or "json", on
// top of DefaultConfig.
func Parse(data []byte, format string) (Config, error) {
	switch format {
	case "yaml":
		return parseYAML(data)
	case "json":
		return parseJSON(data)
	}
	return Config{}, fmt.Errorf("stores: unknown config format %q; want yaml or json", format)
}

func parseYAML(data []byte) (Config, error) {
	// First find the block, so that a missing one is told apart from an
	// empty file or a block of defaults.
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return Config{}, err // yaml.v3 errors start with "yaml: "
	}
	if n, ok := top["sessions"]; !ok || n.Kind != yaml.MappingNode {
		return Config{}, errNoBlock
	}
	cfg := DefaultConfig()
	doc := struct {
		Sessions *Config        `yaml:"sessions"`
		Rest     map[string]any `yaml:",inline"` // the rest of the application's config
	}{Sessions: &cfg}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return Config{}, err // yaml.v3 errors start with "yaml: "
	}
	return cfg, nil
}

func parseJSON(data []byte) (Config, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("json: %w", err)
	}
	raw, ok := doc["sessions"]
	if t := bytes.TrimSpace(raw); !ok || len(t) == 0 || t[0] != '{' {
		return Config{}, errNoBlock
	}
	cfg := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("json: sessions: %w", err)
	}
	return cfg, nil
}
