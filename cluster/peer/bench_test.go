package peer_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh/cluster/peer"
	"github.com/sessionmesh/sessionmesh/internal/servertest"
	"github.com/sessionmesh/sessionmesh/internal/testutil"
)

// benchValue is about one session record.
var benchValue = bytes.Repeat([]byte("s"), 200)

// BenchmarkRoundTrip measures one sequential request/response against its
// neighbours in the same run: a raw TCP echo (the floor), the peer
// transport with and without a secret, and go-redis GET/SET on a real
// redis-server (what the cluster replaces). Each reports its median call
// latency as p50-us. The peer cases serve their handler inline
// (Config.Inline), as a cluster node serves loads and backup copies;
// peer-secret-handover hands each request to a handler goroutine, as it
// serves a save that replicates.
//
//	go test -run '^$' -bench RoundTrip -benchtime 20000x ./cluster/peer/
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("tcp-echo", benchTCPEcho)
	b.Run("peer", func(b *testing.B) { benchPeer(b, peer.Config{Inline: always}) })
	b.Run("peer-secret", func(b *testing.B) { benchPeer(b, peer.Config{Secret: benchSecret, Inline: always}) })
	b.Run("peer-secret-handover", func(b *testing.B) { benchPeer(b, peer.Config{Secret: benchSecret}) })
	rs := servertest.Redis(b)
	b.Run("redis-get", func(b *testing.B) { benchRedis(b, rs.Addr(), true) })
	b.Run("redis-set", func(b *testing.B) { benchRedis(b, rs.Addr(), false) })
	// Throughput with 16 callers at once: peer pipelines them on its two
	// connections, go-redis takes a pooled connection per call.
	b.Run("peer-secret-parallel", func(b *testing.B) { benchPeerParallel(b, peer.Config{Secret: benchSecret, Inline: always}) })
	b.Run("redis-get-parallel", func(b *testing.B) { benchRedisParallel(b, rs.Addr()) })
}

var benchSecret = []byte("0123456789abcdef0123456789abcdef")

// benchPeerParallel serves cfg; the client shares its Secret.
func benchPeerParallel(b *testing.B, cfg peer.Config) {
	get := func(_ context.Context, _ uint8, _ []byte) ([]byte, error) { return benchValue, nil }
	s, _ := startServer(b, cfg, get)
	c := newClient(b, peer.Config{Secret: cfg.Secret})
	addr := s.Addr().String()
	key := []byte("0123456789012345678901234567890123456789abc")
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Call(context.Background(), addr, 1, key); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchRedisParallel(b *testing.B, addr string) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	key := "0123456789012345678901234567890123456789abc"
	if err := rdb.Set(context.Background(), key, benchValue, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := rdb.Get(context.Background(), key).Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// timed runs call b.N times and reports its allocations and its median
// and 99th percentile latency.
func timed(b *testing.B, call func() error) {
	b.ReportAllocs()
	testutil.TimeCalls(b, func(int) error { return call() })
}

func benchTCPEcho(b *testing.B) {
	ln := listen(b, "127.0.0.1:0")
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, len(benchValue)+4)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	msg := append([]byte{0, 0, 0, byte(len(benchValue))}, benchValue...)
	buf := make([]byte, len(msg))
	timed(b, func() error {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(c, buf)
		return err
	})
	c.Close()
	ln.Close()
	<-done
}

// benchPeer serves cfg; the client shares its Secret.
func benchPeer(b *testing.B, cfg peer.Config) {
	get := func(_ context.Context, _ uint8, _ []byte) ([]byte, error) { return benchValue, nil }
	s, _ := startServer(b, cfg, get)
	c := newClient(b, peer.Config{Secret: cfg.Secret})
	ctx := context.Background()
	addr := s.Addr().String()
	key := []byte("0123456789012345678901234567890123456789abc") // a session ID
	if _, err := c.Call(ctx, addr, 1, key); err != nil {
		b.Fatal(err)
	}
	timed(b, func() error {
		_, err := c.Call(ctx, addr, 1, key)
		return err
	})
}

func benchRedis(b *testing.B, addr string, get bool) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 2})
	defer rdb.Close()
	ctx := context.Background()
	key := "0123456789012345678901234567890123456789abc"
	if err := rdb.Set(ctx, key, benchValue, 0).Err(); err != nil {
		b.Fatal(err)
	}
	timed(b, func() error {
		if get {
			return rdb.Get(ctx, key).Err()
		}
		return rdb.Set(ctx, key, benchValue, 0).Err()
	})
}
