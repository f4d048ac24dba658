package envoyadmin

import (
	"errors"
	"net/http"
	"strings"
)

// Handler serves a sidecar's admin API for the clusters clusters returns at
// each request:
//
//	GET /clusters?format=json   RenderClusters
//	GET /clusters               RenderClustersText
//	GET /config_dump?...        ConfigDump (include_eds, resource, mask, name_regex)
//
// Any other path is 404 with Envoy's "invalid path" text (AdminImpl::runCallback).
func Handler(clusters func() []Cluster) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch r.URL.Path {
		case "/clusters":
			if q.Get("format") == "json" {
				b, err := RenderClusters(clusters())
				if err != nil {
					writeError(w, &Error{Code: http.StatusInternalServerError, Body: err.Error()})
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(b)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_, _ = w.Write(RenderClustersText(clusters()))
		case "/config_dump":
			b, err := ConfigDump(clusters(), q)
			if err != nil {
				writeError(w, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		default:
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			w.WriteHeader(http.StatusNotFound)
			var b strings.Builder
			b.WriteString("invalid path. admin commands are:\n")
			b.WriteString("  /clusters: upstream cluster status\n")
			b.WriteString("  /config_dump: dump current Envoy configs (experimental)\n")
			_, _ = w.Write([]byte(b.String()))
		}
	})
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: http.StatusInternalServerError, Body: err.Error()}
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Code)
	_, _ = w.Write([]byte(e.Body))
}
