package cluster

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// No way of printing or logging a cluster config shows its secret.
func TestPrintedConfigHidesTheSecret(t *testing.T) {
	c := DefaultConfig()
	c.Secret = []byte("clustersecretEEEE")
	var text, json bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", c)
	slog.New(slog.NewJSONHandler(&json, nil)).Info("config", "cfg", c)
	for name, out := range map[string]string{
		"%v": fmt.Sprint(c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "&c": fmt.Sprint(&c),
		"slog text": text.String(), "slog json": json.String(),
	} {
		if strings.Contains(out, "clustersecretEEEE") || strings.Contains(out, fmt.Sprint([]byte("clustersecretEEEE"))) {
			t.Errorf("%s shows the secret: %s", name, out)
		}
		if !strings.Contains(out, "0.0.0.0:7946") {
			t.Errorf("%s hides what is not secret: %s", name, out)
		}
	}
	if string(c.Secret) != "clustersecretEEEE" {
		t.Error("printing changed the config itself")
	}
}
