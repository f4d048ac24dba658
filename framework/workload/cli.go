package workload

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

const usage = `usage:
  workload [serve] [--pod NAME] [--port N] [--health-port N] [--control-port N] [--drain DURATION]
  workload fault [--control-port N] 503 | status <code> | refuse | delay <duration> | none
  workload heal  [--control-port N]
  workload state [--control-port N]
`

// usageError is a bad command line (exit 2, usage printed).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// Main is cmd/workload: it runs the command line args (without the
// program name) and returns the exit code: 0, 1 on failure, 2 on a bad
// command line. getenv supplies POD_NAME and HOSTNAME.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stdout, stderr)
	case "fault", "heal", "state":
		err = control(ctx, cmd, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usagef("unknown command %q", cmd)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "workload %s: %v\n%s", cmd, err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "workload %s: %v\n", cmd, err)
		return 1
	}
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("workload "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	pod := fs.String("pod", "", "pod name in answers (default $POD_NAME, then $HOSTNAME)")
	port := fs.Int("port", DefaultPort, "serving port (GET /hello), on every address")
	health := fs.Int("health-port", DefaultHealthPort, "port of GET /healthz, on every address; 0: none")
	ctl := fs.Int("control-port", DefaultControlPort, "control endpoint port, on 127.0.0.1")
	drain := fs.String("drain", "", "how long to keep serving after SIGTERM before exiting, a `duration` from 0 to "+MaxDrain.String()+
		" (default $"+EnvDrain+", then "+DefaultDrain.String()+": callers' sidecars learn that the pod is gone only from istiod's next push)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	period, err := drainPeriod(*drain, getenv)
	if err != nil {
		return err
	}
	name := *pod
	for _, env := range []string{"POD_NAME", "HOSTNAME"} {
		if name == "" {
			name = getenv(env)
		}
	}
	cfg := Config{Pod: name, Addr: PortAddr(*port), ControlAddr: ControlAddr(*ctl), Drain: period}
	if *health != 0 {
		cfg.HealthAddr = PortAddr(*health)
	}
	return Run(ctx, cfg, stdout, nil)
}

// EnvDrain sets serve's drain period when --drain is not given.
const EnvDrain = "WORKLOAD_DRAIN"

// drainPeriod is --drain, else $WORKLOAD_DRAIN, else DefaultDrain.
func drainPeriod(flagValue string, getenv func(string) string) (time.Duration, error) {
	what, v := "--drain", flagValue
	if v == "" && getenv != nil {
		what, v = EnvDrain, getenv(EnvDrain)
	}
	if v == "" {
		return DefaultDrain, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, usagef("%s %q: not a duration: write it like 5s or 1500ms (0 stops at once)", what, v)
	}
	if err := CheckDrain(d); err != nil {
		return 0, usagef("%s: %v", what, err)
	}
	return d, nil
}

func control(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags(cmd, stderr)
	ctl := fs.Int("control-port", DefaultControlPort, "control endpoint port of the serving process, on 127.0.0.1")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the serving process")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := Client{Addr: ControlAddr(*ctl)}
	switch cmd {
	case "state":
		if fs.NArg() > 0 {
			return usagef("state takes no argument, got %q", fs.Args())
		}
		st, err := c.State(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "workload %s: fault %s: %s; served %d\n", st.Pod, st.Fault, st.Fault.Describe(), st.Served)
		return nil
	case "heal":
		if fs.NArg() > 0 {
			return usagef("heal takes no argument, got %q", fs.Args())
		}
	}
	f := Healthy
	if cmd == "fault" {
		var err error
		if f, err = ParseFault(fs.Args()); err != nil {
			return usagef("%v", err)
		}
	}
	st, err := c.SetFault(ctx, f)
	if err != nil {
		return err
	}
	was := "?"
	if st.Previous != nil {
		was = st.Previous.String()
	}
	fmt.Fprintf(stdout, "workload %s: fault %s (was %s): %s\n", st.Pod, st.Fault, was, st.Fault.Describe())
	return nil
}
