// Package storeerr holds what the stores that keep sessions on a server
// (redis, memcache) share to report a Save: the token it returns, and which
// session an error is about without leaking the session's ID.
package storeerr

import "github.com/sessionmesh/sessionmesh/session"

// TokenOr returns token, or "" when err says the save failed: a failed Save
// returns no token.
func TokenOr(token string, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return token, nil
}

// Named is the ID a Save is about, for error messages: the token, or the
// new ID of a session being created.
func Named(token string, p session.Patch) string {
	if token != "" {
		return token
	}
	return p.NewID
}

// Short abbreviates a session ID for error messages: enough to correlate
// log lines, too little to replay the session.
func Short(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[:8] + "…"
}
