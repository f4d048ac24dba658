package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// State is what the control endpoint reports.
type State struct {
	Pod       string `json:"pod"`
	Fault     Fault  `json:"fault"`
	Previous  *Fault `json:"previous,omitempty"` // set by a PUT: the fault it replaced
	Listening bool   `json:"listening"`          // the serving port accepts connections
	Addr      string `json:"addr"`               // serving address
	Served    int64  `json:"served"`             // /hello requests handled
}

func (s *Server) state() State {
	return State{Pod: s.pod, Fault: s.Fault(), Listening: s.Listening(), Addr: s.Addr(), Served: s.Served()}
}

// ControlHandler serves the control endpoint: GET /fault returns the State
// as JSON; PUT /fault with a JSON Fault sets it and returns the new State
// (with Previous); a bad fault is 400 with the reason as text.
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FaultPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.state())
	})
	mux.HandleFunc("PUT "+FaultPath, func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, "decode fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		prev, err := s.SetFault(f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		st := s.state()
		st.Previous = &prev
		writeJSON(w, st)
	})
	return mux
}

// HealthHandler answers GET /healthz with 200 and the pod and fault, for
// the readiness probe: it does not depend on the fault, so a pod that
// refuses connections on the serving port stays Ready.
func (s *Server) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(HealthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "ok %s fault=%s\n", s.pod, s.Fault())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Client talks to a serving process's control endpoint.
type Client struct {
	// Addr is the control endpoint, "127.0.0.1:5002".
	Addr string
	// HTTP defaults to a client with a 5 s timeout.
	HTTP *http.Client
}

func (c Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 5 * time.Second}
}

// State reads the serving process's state.
func (c Client) State(ctx context.Context) (State, error) {
	return c.do(ctx, http.MethodGet, nil)
}

// SetFault sets the fault and returns the new state (Previous set).
func (c Client) SetFault(ctx context.Context, f Fault) (State, error) {
	if err := f.Validate(); err != nil {
		return State{}, err
	}
	b, _ := json.Marshal(f.normal())
	return c.do(ctx, http.MethodPut, b)
}

func (c Client) do(ctx context.Context, method string, body []byte) (State, error) {
	url := "http://" + c.Addr + FaultPath
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return State{}, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return State{}, fmt.Errorf("no workload control endpoint on %s (is `workload serve` running in this container, with this --control-port?): %w", c.Addr, err)
		}
		return State{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return State{}, fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return State{}, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(data)))
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return State{}, fmt.Errorf("%s %s: answer %q is not a workload state: %w", method, url, data, err)
	}
	return st, nil
}
