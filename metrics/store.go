package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sessionmesh/sessionmesh/session"
)

// The operations of a store, as the op label names them.
const (
	opLoad = iota
	opSave
	opDelete
	numOps
)

var opNames = [numOps]string{"load", "save", "delete"}

// The kinds of store errors, as the kind label of
// sessionmesh_store_errors_total names them.
const (
	kindNotFound = iota // session.ErrNotFound: a save lost to a concurrent destroy or renew
	kindTooLarge        // session.ErrTooLarge
	kindFull            // session.ErrFull: a new session refused at the store's bound
	kindClosed          // session.ErrClosed
	kindDeadline        // context.DeadlineExceeded: the request's time ran out
	kindCanceled        // context.Canceled: the client went away
	kindOther           // anything else: the store did not answer, ...
	numKinds
)

var kindNames = [numKinds]string{"not_found", "too_large", "full", "closed", "deadline", "canceled", "other"}

// errorKind classifies a store error. Wrapped sentinels are found with
// errors.Is; the order matters only for errors that wrap two of them.
func errorKind(err error) int {
	switch {
	case errors.Is(err, session.ErrNotFound):
		return kindNotFound
	case errors.Is(err, session.ErrTooLarge):
		return kindTooLarge
	case errors.Is(err, session.ErrFull):
		return kindFull
	case errors.Is(err, session.ErrClosed):
		return kindClosed
	case errors.Is(err, context.DeadlineExceeded):
		return kindDeadline
	case errors.Is(err, context.Canceled):
		return kindCanceled
	}
	return kindOther
}

// storeMetrics are the collectors of one instrumented store, with every
// child resolved once: a call observes and counts without looking a label
// up, which would cost a hash and a lock per request.
type storeMetrics struct {
	duration                             [numOps]prometheus.Observer
	errs                                 [numOps][numKinds]prometheus.Counter
	loads, misses, invalid               prometheus.Counter
	saves, creations, renewals, destroys prometheus.Counter
}

// storeBuckets are the latency buckets of sessionmesh_store_duration_seconds:
// from the memory store's microseconds to a remote store's timeouts.
var storeBuckets = []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 0.5, 2.5}

func newStoreMetrics(reg prometheus.Registerer) (*storeMetrics, error) {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sessionmesh_store_duration_seconds",
		Help:    "Time the session store took per call, by operation (load, save, delete), errors included.",
		Buckets: storeBuckets,
	}, []string{"op"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionmesh_store_errors_total",
		Help: "Session store calls that failed, by operation and kind (not_found, too_large, full, closed, deadline, canceled, other).",
	}, []string{"op", "kind"})
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "sessionmesh_session_" + name + "_total", Help: help})
	}
	m := &storeMetrics{
		loads:     counter("loads", "Loads that found a session."),
		misses:    counter("misses", "Loads that found no session: unknown, expired, destroyed or invalid tokens."),
		invalid:   counter("invalid_tokens", "Misses whose token is not a well-formed session ID: a cookie no server-side store issued, or, with the cookie store, one that does not open (tampered, or sealed with a retired key)."),
		saves:     counter("saves", "Successful saves of every kind: changes, touches, creations and renewals."),
		creations: counter("creations", "New sessions stored."),
		renewals:  counter("renewals", "Sessions moved to a new ID (Session.Renew)."),
		destroys:  counter("destroys", "Sessions deleted (Session.Destroy)."),
	}
	cs := []prometheus.Collector{duration, errs, m.loads, m.misses, m.invalid, m.saves, m.creations, m.renewals, m.destroys}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register the store's collectors: %w", err)
		}
	}
	for op := range numOps {
		m.duration[op] = duration.WithLabelValues(opNames[op])
		for k := range numKinds {
			m.errs[op][k] = errs.WithLabelValues(opNames[op], kindNames[k])
		}
	}
	return m, nil
}

// done observes a call of op that started at start and counts err.
func (m *storeMetrics) done(op int, start time.Time, err error) {
	m.duration[op].Observe(time.Since(start).Seconds())
	if err != nil {
		m.errs[op][errorKind(err)].Inc()
	}
}

// loaded counts a load's outcome.
func (m *storeMetrics) loaded(token string, found bool, err error) {
	switch {
	case err != nil:
	case found:
		m.loads.Inc()
	default:
		m.misses.Inc()
		if !session.ValidID(token) {
			m.invalid.Inc()
		}
	}
}

// saved counts a successful save's kind.
func (m *storeMetrics) saved(token string, p *session.Patch) {
	m.saves.Inc()
	switch {
	case token == "":
		m.creations.Inc()
	case p.NewID != "" && p.NewID != token:
		m.renewals.Inc()
	}
}

// Store is a session.Store that counts and times every call of the store
// it wraps (see InstrumentStore).
type Store struct {
	next session.Store
	m    *storeMetrics
}

// InstrumentStore registers the store collectors on reg (see the package
// doc for their names) and returns st wrapped so that every call is
// timed and counted. The wrapper has the optional interfaces st has
// (session.BinaryLoader, session.IDGenerator), forwarded, so a Manager
// given it takes the same paths as with st; Unwrap returns st, for the
// interfaces of st's own (a cluster's Status, ...). Register the
// collectors of a registry once: a second InstrumentStore on the same
// registry fails with prometheus.AlreadyRegisteredError.
func InstrumentStore(reg prometheus.Registerer, st session.Store) (session.Store, error) {
	m, err := newStoreMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Store{next: st, m: m}
	bl, isBL := st.(session.BinaryLoader)
	g, isG := st.(session.IDGenerator)
	switch {
	case isBL && isG:
		return struct {
			*Store
			binaryLoader
			session.IDGenerator
		}{s, binaryLoader{s, bl}, g}, nil
	case isBL:
		return struct {
			*Store
			binaryLoader
		}{s, binaryLoader{s, bl}}, nil
	case isG:
		return struct {
			*Store
			session.IDGenerator
		}{s, g}, nil
	}
	return s, nil
}

// Unwrap returns the store s wraps.
func (s *Store) Unwrap() session.Store { return s.next }

// Load implements session.Store.
func (s *Store) Load(ctx context.Context, token string) (session.Record, bool, error) {
	start := time.Now()
	rec, found, err := s.next.Load(ctx, token)
	s.m.done(opLoad, start, err)
	s.m.loaded(token, found, err)
	return rec, found, err
}

// Save implements session.Store.
func (s *Store) Save(ctx context.Context, token string, p session.Patch) (string, error) {
	start := time.Now()
	newToken, err := s.next.Save(ctx, token, p)
	s.m.done(opSave, start, err)
	if err == nil {
		s.m.saved(token, &p)
	}
	return newToken, err
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, token string) error {
	start := time.Now()
	err := s.next.Delete(ctx, token)
	s.m.done(opDelete, start, err)
	if err == nil {
		s.m.destroys.Inc()
	}
	return err
}

// Close closes the wrapped store if it is an io.Closer (stores.Close).
func (s *Store) Close() error {
	if c, ok := s.next.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// binaryLoader forwards LoadBinary, timed and counted as a load.
type binaryLoader struct {
	s    *Store
	next session.BinaryLoader
}

func (b binaryLoader) LoadBinary(ctx context.Context, token string) ([]byte, bool, error) {
	start := time.Now()
	data, found, err := b.next.LoadBinary(ctx, token)
	b.s.m.done(opLoad, start, err)
	b.s.m.loaded(token, found, err)
	return data, found, err
}
