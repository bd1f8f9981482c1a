// Package gin shows sessionmesh in a gin engine. A gin.Engine is an
// http.Handler, so the httpmw middleware wraps the whole engine: every
// byte a gin handler writes then goes through the middleware's
// ResponseWriter, which saves the session before the response starts.
// (A gin.HandlerFunc that called the middleware could not do that: gin
// handlers write to c.Writer, not to the writer the middleware passes on.)
// The middleware loads a session only for a request that uses it, so
// routes that never call session.FromContext cost no store I/O.
package gin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionmesh/sessionmesh/httpmw"
	"github.com/sessionmesh/sessionmesh/session"
)

// Handler is the Geddy counter on gin: every GET / counts one more for the
// session.
func Handler(m *session.Manager) http.Handler {
	engine := gin.New()
	engine.GET("/", func(c *gin.Context) {
		s := session.FromContext(c.Request.Context())
		n, _ := session.Get[int](s, "counter")
		if err := s.Set("counter", n+1); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, "%d\n", n+1)
	})
	return httpmw.New(m)(engine)
}
