package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/session"
)

var secret16 = []byte("0123456789abcdef")

func TestDefaultConfigsAreValid(t *testing.T) {
	withSecret, local := DefaultConfig(), DefaultLocalConfig()
	withSecret.Secret, local.Secret = secret16, secret16
	for name, c := range map[string]Config{"default with a secret": withSecret, "local with a secret": local, "zero with a secret": {Secret: secret16}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := (Config{}).withDefaults(); got.Partitions != 4096 || got.Replicas != 2 || got.Bind != "0.0.0.0:7946" {
		t.Errorf("zero Config does not take the defaults: %+v", got)
	}
}

// The longest Name Validate allows makes a node name that still fits the
// peer hello.
func TestLongestNameFitsTheHello(t *testing.T) {
	c := Config{Name: strings.Repeat("n", maxNamePrefix), Secret: secret16}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if n := len(newNodeName(c.Name)); n != peer.MaxName {
		t.Fatalf("node name of %d bytes; want peer.MaxName, %d", n, peer.MaxName)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for field, c := range map[string]Config{
		"Bind":                {Bind: "localhost:7946"},
		"PeerBind":            {PeerBind: "7947"},
		"Join[1]":             {Join: []string{"a", ""}},
		"Join[0]":             {Join: []string{"a b"}},
		"Join[2]":             {Join: []string{"a", "b:7946", "http://c"}},
		"Join[3]":             {Join: []string{"a", "b", "c", "d,e"}},
		"Name":                {Name: strings.Repeat("n", maxNamePrefix+1)},
		"Replicas":            {Replicas: -1},
		"Partitions":          {Partitions: 1 << 17},
		"Secret":              {Secret: []byte("short")},
		"Secrets[1]":          {Secrets: [][]byte{secret16, []byte("short")}},
		"Secrets[2]":          {Secrets: [][]byte{secret16, []byte("0123456789abcdeF"), secret16}},
		"Secrets":             {Secrets: [][]byte{secret16, secret16[1:], secret16[2:], secret16[3:], secret16[4:]}},
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
		var fe *FieldError
		if !errors.Is(err, session.ErrInvalidConfig) || !errors.As(err, &fe) || fe.Field != field || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Validate() = %v; want a *FieldError for %s wrapping ErrInvalidConfig", field, err, field)
		}
	}
}

// Validate lists every problem of a config, each a *FieldError naming its
// field, and keeps the sentinels: errors.Is finds ErrNoSecret among them.
func TestValidateListsEveryProblem(t *testing.T) {
	c := Config{Bind: "0.0.0.0:7946", Join: []string{"ok", "a b"}, Replicas: 9, CallTimeout: -1,
		Secrets: [][]byte{[]byte("short"), secret16, secret16}}
	err := c.Validate()
	want := []string{"Join[1]", "Secrets[0]", "Secrets[2]", "Replicas", "CallTimeout"}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) || !errors.Is(e, session.ErrInvalidConfig) {
			t.Fatalf("%v is not a *FieldError wrapping ErrInvalidConfig", e)
		}
		got = append(got, fe.Field)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Validate names %v; want %v:\n%v", got, want, err)
	}
	if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "short\"") {
		t.Fatalf("the error shows a secret: %v", err)
	}
	noSecret, both := Config{Bind: "0.0.0.0:7946", Replicas: 9}, Config{Secret: secret16, Secrets: [][]byte{secret16}}
	if err := noSecret.Validate(); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("a config with no secret and bad replicas: %v; want ErrNoSecret among the errors", err)
	}
	if err := both.Validate(); err == nil || !strings.Contains(err.Error(), "both set") {
		t.Fatalf("Secret and Secrets set: %v; want an error saying both are set", err)
	}
}

// TestValidateRequiresASecretOffLoopback: the secret rule is part of
// Validate (New applies it through Validate), with the defaults applied, and
// looks at every address the node listens on or advertises.
func TestValidateRequiresASecretOffLoopback(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"loopback with a secret", Config{Bind: "127.0.0.1:0", Secret: secret16}, true},
		{"loopback, insecure", Config{Bind: "127.0.0.1:0", Insecure: true}, true},
		{"every address loopback, insecure", Config{Bind: "127.0.0.1:0", PeerBind: "[::1]:0", Advertise: "localhost", Insecure: true}, true},
		{"all interfaces with a secret", Config{Bind: "0.0.0.0:0", Secret: secret16}, true},
		{"loopback without a secret", Config{Bind: "127.0.0.1:0"}, false},
		{"local defaults without a secret", DefaultLocalConfig(), false},
		{"all interfaces", Config{Bind: "0.0.0.0:7946"}, false},
		{"all interfaces, insecure", Config{Bind: "0.0.0.0:7946", Insecure: true}, false},
		{"zero Bind means all interfaces", Config{}, false},
		{"LAN defaults", DefaultConfig(), false},
		{"peer port off loopback", Config{Bind: "127.0.0.1:0", PeerBind: "0.0.0.0:0", Insecure: true}, false},
		{"advertised host name", Config{Bind: "127.0.0.1:0", Advertise: "worker1", Insecure: true}, false},
		{"advertised private IP", Config{Bind: "127.0.0.1:0", Advertise: "10.1.2.3", Insecure: true}, false},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.ok {
			if err != nil {
				t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.Is(err, ErrNoSecret) || !errors.Is(err, session.ErrInvalidConfig) || !errors.As(err, &fe) || fe.Field != "Secret" {
			t.Errorf("%s: Validate() = %v; want a *FieldError for Secret wrapping ErrNoSecret and ErrInvalidConfig", tt.name, err)
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

// Every secret of a list derives a gossip and a peer key of its own, and
// IDs that tell the secrets apart without showing them.
func TestDerivedKeyListsDiffer(t *testing.T) {
	list := [][]byte{secret16, []byte("0123456789abcdeF")}
	g, p := deriveKeys(list, "gossip"), deriveKeys(list, "peer")
	seen := map[string]bool{}
	for _, k := range append(g, p...) {
		seen[string(k)] = true
	}
	if len(seen) != 4 {
		t.Fatal("two secrets must derive four distinct keys")
	}
	ids := SecretIDs(list)
	if len(ids) != 2 || ids[0] == ids[1] || len(ids[0]) != 8 || strings.Contains(string(secret16), ids[0]) {
		t.Fatalf("SecretIDs = %v; want two distinct 8-digit IDs", ids)
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
