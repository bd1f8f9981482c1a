package session

// Flash messages are values meant for the next page a user sees ("saved",
// "wrong password"): Flash stores one, PopFlash reads it and removes it in
// the same request's patch, so it is shown once. They live in the session
// like any value (every store keeps them, Renew keeps them, Clear and
// Destroy drop them), under keys in a space of their own: a flash and a
// value of the same name never meet, and Keys lists values only.
//
// Two concurrent requests of one session can both pop the same flash
// before either saves (the patches of one session are applied atomically,
// not serialized with the reads that preceded them): a page shown twice,
// never a value lost.

// reservedPrefix starts the keys the package keeps in a session for
// itself, flashes and the session's own timeouts (lifetime.go): a NUL
// byte, which no key from Set or Delete may start with (they refuse it).
const reservedPrefix = "\x00"

// flashPrefix starts the stored key of every flash.
const flashPrefix = reservedPrefix + "flash\x00"

// maxFlashKey is the longest flash key, so that the stored key stays
// within MaxKeyLen.
const maxFlashKey = MaxKeyLen - len(flashPrefix)

// Flash stores v as the flash message key, replacing the one there. Like
// Set, it encodes v at once and reports an encoding error here. To keep
// several messages under one key, store a slice.
func (s *Session) Flash(key string, v any) error {
	if s == nil {
		return ErrNoSession
	}
	if err := checkKey(key, maxFlashKey); err != nil {
		return err
	}
	return s.set1(flashPrefix+key, v)
}

// PopFlash returns the flash message key, decoded into a T, and removes
// it from the session with this request's save: ok is false when there is
// none (then nothing is written). A flash that does not decode as T is
// removed all the same and reported as an error. After the response has
// started, PopFlash fails with ErrCommitted and leaves the flash for the
// next request: a message can only be consumed by a request that saves.
func PopFlash[T any](s *Session, key string) (v T, ok bool, err error) {
	if s == nil {
		return v, false, ErrNoSession
	}
	if err := checkKey(key, maxFlashKey); err != nil {
		return v, false, err
	}
	data, ok, err := s.pop(flashPrefix + key)
	if err != nil || !ok {
		return v, false, err
	}
	v, err = decode[T](s, key, data)
	return v, err == nil, err
}

// pop returns the value of key and records its removal in the patch.
func (s *Session) pop(key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return nil, false, err
	}
	data, ok := s.set[key]
	if !ok {
		if _, gone := s.del[key]; gone || s.clear || s.destroy {
			return nil, false, nil
		}
		if data, ok = s.storedLocked(key); !ok {
			return nil, false, nil
		}
	}
	if s.committed {
		s.m.lateChange(s)
		return nil, false, ErrCommitted
	}
	s.deleteLocked(key)
	return data, true, nil
}
