package main

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"mime"
	"net/http"
	"strings"
)

// The demo's two HTML pages, GET / and the admin listener's GET /cluster,
// are html/template files embedded in the binary: no external asset, no
// CDN, no font, so they work offline and inside the compose network. Only
// a browser gets them (wantsHTML); curl and the tests keep the plain
// number and the JSON.
//
//go:embed pages/*.html
var pageFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"bytes": byteSize,
}).ParseFS(pageFiles, "pages/*.html"))

// wantsHTML reports whether r's Accept header names text/html, as every
// browser's navigation does. curl sends */*, and scripts send nothing or
// application/json: they get what they always got, at no cost (no
// allocation) beyond one look at the header.
func wantsHTML(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if !strings.Contains(accept, "html") && !strings.Contains(accept, "HTML") {
		return false
	}
	for part := range strings.SplitSeq(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/html" {
			return true
		}
	}
	return false
}

// renderPage writes the page tmpl with data, under a strict
// Content-Security-Policy: nothing loads from anywhere but the page
// itself, and only the page's own <style> and <script> run, by a nonce
// made for this response (data.Nonce). The page is rendered into a
// buffer first, so that a template error is a 500, not half a page.
func (d *demo) renderPage(w http.ResponseWriter, tmpl string, data pageData) {
	var buf bytes.Buffer
	data.Nonce = newNonce()
	if err := pages.ExecuteTemplate(&buf, tmpl, data); err != nil {
		d.log.Error("demo: render "+tmpl, "err", err)
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; "+
		"script-src 'nonce-"+data.Nonce+"'; style-src 'nonce-"+data.Nonce+"'; "+
		"img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// pageData is what every page gets: the CSP nonce of its inline style and
// script, and the page's own values.
type pageData struct {
	Nonce string
	Page  any
}

// newNonce returns 16 random bytes in unpadded base64url: a CSP nonce
// that html/template writes into an attribute as it is (it would escape
// the + of standard base64).
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
