package cluster

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// No way of printing or logging a cluster config shows its secrets.
func TestPrintedConfigHidesTheSecret(t *testing.T) {
	c := DefaultConfig()
	c.Secret = []byte("clustersecretEEEE")
	c.Secrets = [][]byte{[]byte("clustersecretFFFF"), []byte("clustersecretGGGG")}
	var text, json bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", c)
	slog.New(slog.NewJSONHandler(&json, nil)).Info("config", "cfg", c)
	for name, out := range map[string]string{
		"%v": fmt.Sprint(c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "&c": fmt.Sprint(&c),
		"slog text": text.String(), "slog json": json.String(),
	} {
		for _, secret := range []string{"clustersecretEEEE", "clustersecretFFFF", "clustersecretGGGG"} {
			if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprint([]byte(secret))) {
				t.Errorf("%s shows the secret %s: %s", name, secret, out)
			}
		}
		if !strings.Contains(out, "0.0.0.0:7946") {
			t.Errorf("%s hides what is not secret: %s", name, out)
		}
	}
	if string(c.Secret) != "clustersecretEEEE" || string(c.Secrets[1]) != "clustersecretGGGG" {
		t.Error("printing changed the config itself")
	}
}
