package stores_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sessionmesh/sessionmesh/stores"
)

// FuzzLoad feeds arbitrary bytes to the config parser as YAML and as JSON.
// Parsing must never panic; a config that parses must validate without
// panicking and survive a JSON round trip unchanged (what Load reads is
// what the program uses).
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		fullYAML, fullJSON, "", "sessions:\n", "sessions: {store: cookie, keys: [a]}\n",
		"sessions:\n  expiry: 99999999999999999999\n", `{"sessions": {"expiry": 1e400}}`,
		"sessions: &a {cluster: *a}\n", "sessions:\n  cookie: {secure: [1]}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{"yaml", "json"} {
			cfg, err := stores.Parse(data, format)
			if err != nil {
				continue
			}
			_ = cfg.Validate()
			b, err := json.Marshal(map[string]any{"sessions": cfg})
			if err != nil {
				t.Fatalf("%s: marshal %+v: %v", format, cfg, err)
			}
			again, err := stores.Parse(b, "json")
			if err != nil {
				t.Fatalf("%s: re-parse %s: %v", format, b, err)
			}
			if !reflect.DeepEqual(cfg, again) {
				t.Fatalf("%s: round trip changed the config:\n%+v\n%+v", format, cfg, again)
			}
		}
	})
}
