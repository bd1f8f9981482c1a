package main

import (
	"strings"
	"testing"
)

func TestHAProxyConfig(t *testing.T) {
	cfg := haproxyConfig("127.0.0.1:1000", "127.0.0.1:1001", []backend{{"w0", "127.0.0.1:2000"}, {"w1", "127.0.0.1:2001"}})
	for _, want := range []string{
		"frontend rr\n    bind 127.0.0.1:1000\n    default_backend rr\n",
		"frontend sticky\n    bind 127.0.0.1:1001\n    default_backend sticky\n",
		"backend rr\n    balance roundrobin\n    server w0 127.0.0.1:2000\n    server w1 127.0.0.1:2001\n",
		"cookie SRV insert indirect nocache\n    server w0 127.0.0.1:2000 cookie w0\n    server w1 127.0.0.1:2001 cookie w1\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	static := haproxyStaticConfig("127.0.0.1:3000")
	if !strings.Contains(static, "bind 127.0.0.1:3000") || !strings.Contains(static, "http-request return status 200") {
		t.Errorf("static config:\n%s", static)
	}
}
