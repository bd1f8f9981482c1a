package stores

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// No way of printing or logging a config shows a secret, and what is not
// secret still shows.
func TestPrintedConfigHidesSecrets(t *testing.T) {
	secrets := []string{"cookiesecretAAAA", "redispassBBBB", "sentinelpassCCCC", "clustersecretDDDD", "sealsecretEEEE"}
	c := DefaultConfig()
	c.Store = Redis
	c.Keys = []string{"k1:" + secrets[0]}
	c.SealKeys = []string{"s1:" + secrets[4]}
	c.Server.Auth, c.Server.SentinelAuth = secrets[1], secrets[2]
	c.Cluster = &ClusterConfig{Bind: "10.0.0.1:7946", Secret: secrets[3]}

	var text, json bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", c, "server", c.Server, "cluster", c.Cluster)
	slog.New(slog.NewJSONHandler(&json, nil)).Info("config", "cfg", c, "server", c.Server, "cluster", c.Cluster)
	for name, out := range map[string]string{
		"%v": fmt.Sprint(c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "&c": fmt.Sprint(&c),
		"server": fmt.Sprintf("%+v %#v", c.Server, c.Server), "cluster": fmt.Sprintf("%v %+v %#v", c.Cluster, *c.Cluster, c.Cluster),
		"slog text": text.String(), "slog json": json.String(),
	} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the secret %q: %s", name, s, out)
			}
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("%s does not say a secret was set: %s", name, out)
		}
		if name != "server" && !strings.Contains(out, "10.0.0.1:7946") && !strings.Contains(out, "redis") {
			t.Errorf("%s hides what is not secret: %s", name, out)
		}
	}
	if c.Keys[0] != "k1:"+secrets[0] || c.SealKeys[0] != "s1:"+secrets[4] || c.Server.Auth != secrets[1] || c.Cluster.Secret != secrets[3] {
		t.Error("printing changed the config itself")
	}
}
