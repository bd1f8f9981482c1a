package check

import "sync/atomic"

// Progress is a live view of a running Run, for a test that must wait until
// load is flowing before it injects a fault, or until the workers answer
// again after one. Its methods may be called from any goroutine while Run
// updates it. The zero value is ready to use.
type Progress struct {
	requests, failures, acked atomic.Int64
}

// Requests returns the requests of the load phase finished so far.
func (p *Progress) Requests() int64 { return p.requests.Load() }

// Failures returns the failed requests so far.
func (p *Progress) Failures() int64 { return p.failures.Load() }

// AckedWrites returns the acknowledged writes so far.
func (p *Progress) AckedWrites() int64 { return p.acked.Load() }

func (p *Progress) add(write, ok bool) {
	if p == nil {
		return
	}
	p.requests.Add(1)
	if !ok {
		p.failures.Add(1)
	} else if write {
		p.acked.Add(1)
	}
}
