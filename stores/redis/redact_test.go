package redis

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// No way of printing or logging a Redis config shows a password.
func TestPrintedConfigHidesPasswords(t *testing.T) {
	c := Config{Addrs: []string{"10.0.0.2:6379"}, Username: "app", Password: "redispassFFFF", SentinelPassword: "sentinelpassGGGG"}
	var text, json bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", c)
	slog.New(slog.NewJSONHandler(&json, nil)).Info("config", "cfg", c)
	for name, out := range map[string]string{
		"%v": fmt.Sprint(c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "&c": fmt.Sprint(&c),
		"slog text": text.String(), "slog json": json.String(),
	} {
		if strings.Contains(out, "redispassFFFF") || strings.Contains(out, "sentinelpassGGGG") {
			t.Errorf("%s shows a password: %s", name, out)
		}
		if !strings.Contains(out, "10.0.0.2:6379") || !strings.Contains(out, "app") {
			t.Errorf("%s hides what is not secret: %s", name, out)
		}
	}
}
