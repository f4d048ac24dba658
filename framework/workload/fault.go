package workload

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is what a faulted workload does instead of answering normally.
type Kind string

const (
	// None answers normally.
	None Kind = "none"
	// Status answers every GET /hello with Fault.Status.
	Status Kind = "status"
	// Refuse closes the serving listener and every open connection, so
	// connections to the serving port are refused; the health port and the
	// control endpoint keep answering (the pod stays Ready).
	Refuse Kind = "refuse"
	// Delay answers normally after Fault.Delay.
	Delay Kind = "delay"
)

// Fault is the serving process's fault state.
type Fault struct {
	Kind   Kind          `json:"kind"`
	Status int           `json:"status,omitempty"` // Kind Status: 200..599
	Delay  time.Duration `json:"delay,omitempty"`  // Kind Delay: > 0
}

// Healthy is the zero fault: answer normally.
var Healthy = Fault{Kind: None}

// FailStatus is the fault that answers status to every request.
func FailStatus(status int) Fault { return Fault{Kind: Status, Status: status} }

// RefuseConnections is the fault that refuses connections.
var RefuseConnections = Fault{Kind: Refuse}

// DelayBy is the fault that delays every answer by d.
func DelayBy(d time.Duration) Fault { return Fault{Kind: Delay, Delay: d} }

// normal maps the zero value to Healthy.
func (f Fault) normal() Fault {
	if f.Kind == "" {
		return Healthy
	}
	return f
}

// Validate checks that the fault is one the server can apply.
func (f Fault) Validate() error {
	f = f.normal()
	switch f.Kind {
	case None, Refuse:
		if f.Status != 0 || f.Delay != 0 {
			return fmt.Errorf("fault %q takes no status or delay", f.Kind)
		}
	case Status:
		if f.Status < 200 || f.Status > 599 {
			return fmt.Errorf("fault status %d: want an HTTP status from 200 to 599", f.Status)
		}
	case Delay:
		if f.Delay <= 0 {
			return fmt.Errorf("fault delay %v: want a positive duration, e.g. 2s", f.Delay)
		}
	default:
		return fmt.Errorf("unknown fault kind %q: want none, status, refuse or delay", f.Kind)
	}
	return nil
}

// String is the fault in the words of the fault subcommand, so that
// ParseFault(strings.Fields(f.String())) == f.
func (f Fault) String() string {
	f = f.normal()
	switch f.Kind {
	case Status:
		return fmt.Sprintf("status %d", f.Status)
	case Delay:
		return "delay " + f.Delay.String()
	default:
		return string(f.Kind)
	}
}

// Describe says what a pod with the fault does, for humans.
func (f Fault) Describe() string {
	f = f.normal()
	switch f.Kind {
	case None:
		return "answering normally"
	case Status:
		return fmt.Sprintf("answering %d to every request", f.Status)
	case Refuse:
		return "refusing connections on the serving port (health port still answers)"
	case Delay:
		return fmt.Sprintf("answering normally after %v", f.Delay)
	}
	return string(f.Kind)
}

// Args returns the words after "fault" that select f: FaultArgs's tail.
func (f Fault) Args() []string { return strings.Fields(f.String()) }

// ParseFault reads the arguments of `workload fault`:
//
//	503 | status 503   answer 503 (any status 200..599)
//	refuse           refuse connections on the serving port
//	delay 2s         answer after 2 s (a Go duration)
//	none | heal      answer normally
func ParseFault(args []string) (Fault, error) {
	usage := "want one of: <status>, status <status>, refuse, delay <duration>, none"
	if len(args) == 0 {
		return Fault{}, fmt.Errorf("no fault given: %s", usage)
	}
	var f Fault
	switch args[0] {
	case "none", "heal":
		if len(args) != 1 {
			return Fault{}, fmt.Errorf("fault %s takes no argument, got %q", args[0], args[1:])
		}
		f = Healthy
	case "refuse":
		if len(args) != 1 {
			return Fault{}, fmt.Errorf("fault refuse takes no argument, got %q", args[1:])
		}
		f = RefuseConnections
	case "status":
		if len(args) != 2 {
			return Fault{}, fmt.Errorf("fault status takes one HTTP status, e.g. status 503")
		}
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return Fault{}, fmt.Errorf("fault status %q: not a number", args[1])
		}
		f = FailStatus(n)
	case "delay":
		if len(args) != 2 {
			return Fault{}, fmt.Errorf("fault delay takes one duration, e.g. delay 2s")
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return Fault{}, fmt.Errorf("fault delay %q: %v", args[1], err)
		}
		f = DelayBy(d)
	default:
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return Fault{}, fmt.Errorf("unknown fault %q: %s", strings.Join(args, " "), usage)
		}
		if len(args) != 1 {
			return Fault{}, fmt.Errorf("fault %s takes no further argument, got %q", args[0], args[1:])
		}
		f = FailStatus(n)
	}
	return f, f.Validate()
}
