package test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"
)

// browser is one client with a cookie jar, as a user's browser would be.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, client: &http.Client{Jar: jar, Transport: tr, Timeout: 5 * time.Second}}
}

// get requests url and returns the response's status, trimmed body and
// X-Served-By header.
func (b *browser) get(url string) (status int, body, servedBy string, err error) {
	resp, err := b.client.Get(url)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, strings.TrimSpace(string(raw)), resp.Header.Get("X-Served-By"), err
}

// counter requests url (the demo's / or /peek) and returns the counter,
// failing the test on anything but a 200 with a number.
func (b *browser) counter(url string) (n int, servedBy string) {
	b.t.Helper()
	status, body, servedBy, err := b.get(url)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("status %d, body %q", status, body)
	}
	if err == nil {
		n, err = strconv.Atoi(body)
	}
	if err != nil {
		b.t.Fatalf("GET %s: %v", url, err)
	}
	return n, servedBy
}
