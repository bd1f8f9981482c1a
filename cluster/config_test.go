package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/session"
)

func TestDefaultConfigsAreValid(t *testing.T) {
	for name, c := range map[string]Config{"default": DefaultConfig(), "local": DefaultLocalConfig(), "zero": {}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := (Config{}).withDefaults(); got.Partitions != 4096 || got.Replicas != 2 || got.Bind != "0.0.0.0:7946" {
		t.Errorf("zero Config does not take the defaults: %+v", got)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for field, c := range map[string]Config{
		"Bind":                {Bind: "localhost:7946"},
		"PeerBind":            {PeerBind: "7947"},
		"Join[1]":             {Join: []string{"a", ""}},
		"Replicas":            {Replicas: -1},
		"Partitions":          {Partitions: 1 << 17},
		"Secret":              {Secret: []byte("short")},
		"MaxRecordSize":       {MaxRecordSize: -1},
		"CallTimeout":         {CallTimeout: -1},
		"RejoinInterval":      {RejoinInterval: -1},
		"PullPartitions":      {PullPartitions: -1},
		"DrainTimeout":        {DrainTimeout: -1},
		"TransferTimeout":     {TransferTimeout: -1},
		"AntiEntropyInterval": {AntiEntropyInterval: -1},
		"StableAfter":         {StableAfter: -1},
	} {
		err := c.Validate()
		if !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Validate() = %v; want ErrInvalidConfig naming %s", field, err, field)
		}
	}
}

func TestRequireSecret(t *testing.T) {
	for _, c := range []Config{
		{Bind: "127.0.0.1:0"},
		{Bind: "127.0.0.1:0", PeerBind: "[::1]:0", Advertise: "localhost"},
		{Bind: "0.0.0.0:0", Secret: []byte("0123456789abcdef")},
	} {
		if err := c.requireSecret(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, c := range []Config{{Bind: "0.0.0.0:7946"}, {Bind: "127.0.0.1:0", Advertise: "worker1"}} {
		if err := c.requireSecret(); !errors.Is(err, ErrNoSecret) {
			t.Errorf("%+v: %v; want ErrNoSecret", c, err)
		}
	}
}

func TestPeerBindDefaultsToNextPort(t *testing.T) {
	for bind, want := range map[string]string{"0.0.0.0:7946": "0.0.0.0:7947", "127.0.0.1:0": "127.0.0.1:0"} {
		if got := peerBind(&Config{Bind: bind}); got != want {
			t.Errorf("peerBind(%s) = %s; want %s", bind, got, want)
		}
	}
}

func TestDerivedKeysDiffer(t *testing.T) {
	secret := []byte("0123456789abcdef")
	g, p := deriveKey(secret, "gossip"), deriveKey(secret, "peer")
	if len(g) != 32 || len(p) != 32 || string(g) == string(p) || string(g) == string(deriveKey([]byte("0123456789abcdeF"), "gossip")) {
		t.Fatal("derived keys must be 32 bytes, differ by purpose and by secret")
	}
	if deriveKey(nil, "gossip") != nil {
		t.Fatal("no secret must derive no key (no encryption)")
	}
}
