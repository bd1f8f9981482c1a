package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/sessionmesh/sessionmesh/session"
	"github.com/sessionmesh/sessionmesh/stores"
)

// secretSetter is a store whose secrets change while it serves.
// *cluster.Store implements it.
type secretSetter interface {
	SetSecrets(secrets [][]byte) error
}

// reloadOnHUP applies the cluster's secret file (sessions.cluster.secretFile)
// to the running store at every SIGHUP, until the returned stop is called:
// a key rotation without restarts (README, "Rotate the cluster secret").
// A file that cannot be read or holds a bad list is logged and changes
// nothing; without a secret file SIGHUP only logs that there is nothing
// to reload.
func reloadOnHUP(cfg stores.Config, st session.Store, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hup:
				reloadSecrets(cfg, st, log)
			case <-ctx.Done():
				return
			}
		}
	})
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}

// reloadSecrets reads the secret file again and gives its secrets to st.
func reloadSecrets(cfg stores.Config, st session.Store, log *slog.Logger) {
	setter, ok := st.(secretSetter)
	if !ok || cfg.Cluster == nil || cfg.Cluster.SecretFile == "" {
		log.Warn("demo: SIGHUP: nothing to reload (only the shared memory store's sessions.cluster.secretFile is re-read)")
		return
	}
	secrets, err := cfg.Cluster.SecretList()
	if err == nil {
		err = setter.SetSecrets(secrets)
	}
	if err != nil {
		log.Error("demo: SIGHUP: cluster secrets not changed", "file", cfg.Cluster.SecretFile, "err", err)
	}
}
