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

// certReloader is a store whose TLS certificates are read again while it
// serves. *cluster.Store implements it.
type certReloader interface {
	ReloadCerts() error
}

// reloadOnHUP applies the cluster's secret file (sessions.cluster.secretFile)
// and TLS files (sessions.cluster.tls) to the running store at every
// SIGHUP, until the returned stop is called: a key or certificate rotation
// without restarts (README, "Rotate the cluster secret", "TLS between
// workers"). A file that cannot be read or holds a bad list or certificate
// is logged and changes nothing; with neither SIGHUP only logs that there
// is nothing to reload.
func reloadOnHUP(cfg stores.Config, st session.Store, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hup:
				reload(cfg, st, log)
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

// reload is SIGHUP's work: the secret file and the certificates, each when
// configured.
func reload(cfg stores.Config, st session.Store, log *slog.Logger) {
	secrets := cfg.Cluster != nil && cfg.Cluster.SecretFile != ""
	certs := cfg.Cluster != nil && cfg.Cluster.TLS.On()
	if !secrets && !certs {
		log.Warn("demo: SIGHUP: nothing to reload (only the shared memory store's sessions.cluster.secretFile and sessions.cluster.tls files are re-read)")
		return
	}
	if secrets {
		reloadSecrets(cfg, st, log)
	}
	if certs {
		reloadCerts(st, log)
	}
}

// reloadSecrets reads the secret file again and gives its secrets to st.
func reloadSecrets(cfg stores.Config, st session.Store, log *slog.Logger) {
	setter, ok := st.(secretSetter)
	if !ok {
		log.Warn("demo: SIGHUP: the store takes no secrets (only the shared memory store does)")
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

// reloadCerts has st read its certificate files again; the store logs
// what it read.
func reloadCerts(st session.Store, log *slog.Logger) {
	r, ok := st.(certReloader)
	if !ok {
		log.Warn("demo: SIGHUP: the store has no certificates (only the shared memory store does)")
		return
	}
	if err := r.ReloadCerts(); err != nil {
		log.Error("demo: SIGHUP: cluster certificates not changed", "err", err)
	}
}
