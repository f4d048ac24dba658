// Command upgrade-check checks that an Istio upgrade keeps locality load
// balancing behaving the same: it runs the specs on a kind cluster with
// Istio FROM, upgrades the cluster to TO (in place, or with --canary a
// second control plane istiod-canary-<to> that the specs' namespaces are
// moved to), waits for istiod and every sidecar to run TO, runs the specs
// again and compares the two behaviour fingerprints.
//
//	go run ./cmd/upgrade-check --from=1.27.3 --to=1.28.0 [--canary] [--dry-run]
//
// `upgrade-check embedded --from=<istio.io/istio version> --to=<version>`
// checks the control plane without a cluster instead (embedded.go).
//
// Exit status: 0 when only sampling noise differs, 1 on a behavioural
// change (the diff is printed), 2 on bad usage or when the check could
// not be run (no Docker, missing istioctl, no fingerprint, upgrade
// failed). A failing spec does not stop the check: it is part of the
// fingerprint. The kind cluster is deleted at the end unless
// --keep-cluster; LOCALITY_E2E_KUBECONFIG runs on an existing cluster
// instead, which is upgraded and never deleted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"

	"github.com/localitylb/locality-e2e/framework/fingerprint"
	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/report"
)

// Exit codes.
const (
	exitSame    = 0
	exitChanged = 1
	exitError   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "embedded" {
		os.Exit(runEmbedded(ctx, os.Args[2:], os.Stdout, os.Stderr, realEmbeddedDeps()))
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, realDeps()))
}

// deps is what run needs from the machine, replaced in tests.
type deps struct {
	getenv        func(string) string
	environ       func() []string
	checkDocker   func(ctx context.Context) error
	checkIstioctl func(ctx context.Context, path, version string) error
	clusterExists func(name string) (bool, error)
	deleteCluster func(name, kubeconfig string) error
	runCmd        func(ctx context.Context, argv, env []string, prefix string, out io.Writer) error
	kube          func(kubeconfig string) (kubernetes.Interface, error)
	now           func() time.Time
	poll          time.Duration
	// startTraffic deploys the scenario kept alive across the upgrade and
	// starts its steady traffic (startTrafficKind).
	startTraffic func(ctx context.Context, o Options, kube kubernetes.Interface, log io.Writer) (*steadyTraffic, error)
}

func realDeps() deps {
	return deps{
		getenv:        os.Getenv,
		environ:       os.Environ,
		checkDocker:   kind.CheckDocker,
		checkIstioctl: kind.CheckIstioctl,
		clusterExists: func(name string) (bool, error) {
			names, err := kindcluster.NewProvider().List()
			if err != nil {
				return false, fmt.Errorf("list kind clusters: %w", err)
			}
			for _, n := range names {
				if n == name {
					return true, nil
				}
			}
			return false, nil
		},
		deleteCluster: func(name, kubeconfig string) error {
			return kindcluster.NewProvider().Delete(name, kubeconfig)
		},
		runCmd: kind.RunStreaming,
		kube: func(kubeconfig string) (kubernetes.Interface, error) {
			rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
			}
			return kubernetes.NewForConfig(rc)
		},
		now:          time.Now,
		poll:         2 * time.Second,
		startTraffic: startTrafficKind,
	}
}

// parseFlags reads args and the environment into Options.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("upgrade-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.From, "from", "", "Istio release to start from (required), e.g. 1.27.3")
	fs.StringVar(&o.To, "to", "", "Istio release to upgrade to (required), e.g. 1.28.0")
	fs.StringVar(&o.IstioctlFrom, "istioctl-from", "", "istioctl of --from (default bin/istioctl-<from>, from `make istioctl ISTIO_VERSION=<from>`)")
	fs.StringVar(&o.IstioctlTo, "istioctl-to", "", "istioctl of --to (default bin/istioctl-<to>)")
	fs.BoolVar(&o.Canary, "canary", false, "canary upgrade: install istiod-canary-<to> next to the old istiod and move the namespaces to it (istio.io/rev), instead of upgrading in place")
	fs.StringVar(&o.ReportDir, "report-dir", DefaultReportDir, "reports of the two runs go to <dir>/from and <dir>/to")
	fs.BoolVar(&o.KeepCluster, "keep-cluster", false, "keep the kind cluster at the end (delete it with kind delete cluster --name <name>)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print the plan and exit")
	fs.StringVar(&o.ClusterName, "cluster-name", DefaultClusterName, "name of the kind cluster the check creates (it must not exist)")
	fs.DurationVar(&o.WaitTimeout, "wait-timeout", DefaultWaitTimeout, "bound of the waits for the new istiod and for the upgraded sidecars")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: upgrade-check --from=<version> --to=<version> [--canary] [flags]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("upgrade-check: unexpected arguments %q: every input is a flag (--from, --to, ...)", fs.Args())
	}
	o.Make = orDefault(getenv("MAKE"), "make")
	o.Profile = orDefault(strings.TrimSpace(getenv(kind.EnvIstioProfile)), kind.DefaultIstioProfile)
	o.Kubeconfig = strings.TrimSpace(getenv(kind.EnvKubeconfig))
	if o.IstioctlFrom == "" && o.From != "" {
		o.IstioctlFrom = DefaultIstioctl(o.From)
	}
	if o.IstioctlTo == "" && o.To != "" {
		o.IstioctlTo = DefaultIstioctl(o.To)
	}
	// make runs the specs from this directory, but ISTIOCTL must not
	// depend on it: the Makefile's own default is absolute too.
	for _, p := range []*string{&o.IstioctlFrom, &o.IstioctlTo} {
		if *p != "" && strings.ContainsRune(*p, filepath.Separator) {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	o.KindKubeconfig = kind.KubeconfigPath(o.ClusterName)
	return o, o.Validate()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) int {
	o, err := parseFlags(args, d.getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitSame
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	steps := Plan(o)
	if o.DryRun {
		fmt.Fprint(stdout, FormatPlan(o, steps))
		return exitSame
	}
	if err := preflight(ctx, o, d); err != nil {
		fmt.Fprintf(stderr, "upgrade-check: %v\n", err)
		return exitError
	}
	c := &checker{o: o, d: d, out: stdout}
	code, err := c.run(ctx, steps)
	if err != nil {
		fmt.Fprintf(stderr, "upgrade-check: %v\n", err)
	}
	return code
}

// preflight fails in seconds, before anything is created: istioctl
// binaries of the right releases, then Docker (unless an existing
// cluster is used) and no kind cluster of that name yet.
func preflight(ctx context.Context, o Options, d deps) error {
	for _, b := range []struct{ flag, path, version string }{
		{"--istioctl-from", o.IstioctlFrom, o.From}, {"--istioctl-to", o.IstioctlTo, o.To},
	} {
		if _, err := exec.LookPath(b.path); err != nil {
			return fmt.Errorf("%s %s: no istioctl there (%v): run `make istioctl ISTIO_VERSION=%s`, or point %s at istioctl %s",
				b.flag, b.path, err, b.version, b.flag, b.version)
		}
		if err := d.checkIstioctl(ctx, b.path, b.version); err != nil {
			return fmt.Errorf("%s: %w", b.flag, err)
		}
	}
	if o.Kubeconfig != "" {
		if _, err := os.Stat(o.Kubeconfig); err != nil {
			return fmt.Errorf("%s=%s cannot be read: %v", kind.EnvKubeconfig, o.Kubeconfig, err)
		}
		return nil
	}
	if err := d.checkDocker(ctx); err != nil {
		// The kind backend's message suggests --backend, which this
		// command does not have.
		var de *kind.DockerError
		if errors.As(err, &de) {
			return fmt.Errorf("the upgrade check creates a kind cluster and needs a running Docker engine: %s; set %s=<path> to check an existing cluster instead (it is upgraded and never deleted), or run the specs without a cluster with `make specs` (embedded backend)", de.Detail, kind.EnvKubeconfig)
		}
		return err
	}
	exists, err := d.clusterExists(o.ClusterName)
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("a kind cluster %q already exists: the check starts on a new cluster; use --cluster-name=<other>, or delete it (kind delete cluster --name %s)",
			o.ClusterName, o.ClusterName)
	}
	return nil
}

// checker runs the plan.
type checker struct {
	o    Options
	d    deps
	out  io.Writer
	kube kubernetes.Interface

	traffic           *steadyTraffic
	trafficViolations []string
	trafficTimeline   *report.Timeline
}

// phase labels the steady traffic's next batches, if it runs.
// phase starts the next phase of the steady traffic, once a batch has
// completed in the current one: every phase then shows in the timeline,
// and traffic is known to have flowed through each step.
func (c *checker) phase(ctx context.Context, name string) {
	if c.traffic == nil {
		return
	}
	if err := c.traffic.rec.AwaitBatches(ctx, 1); err != nil {
		fmt.Fprintf(c.out, "upgrade: %v\n", err)
	}
	c.traffic.rec.Phase(name)
}

func (c *checker) client() (kubernetes.Interface, error) {
	if c.kube == nil {
		k, err := c.d.kube(c.o.kubeconfig())
		if err != nil {
			return nil, err
		}
		c.kube = k
	}
	return c.kube, nil
}

// run runs the steps; the cluster is deleted at the end (the last step),
// also when an earlier step fails or the check is interrupted.
func (c *checker) run(ctx context.Context, steps []Step) (code int, err error) {
	var cleanup *Step
	if n := len(steps); n > 0 && steps[n-1].Name == StepDeleteCluster {
		cleanup, steps = &steps[n-1], steps[:n-1]
		defer func() {
			fmt.Fprintf(c.out, "== %s\n", cleanup.Name)
			if derr := c.d.deleteCluster(c.o.ClusterName, c.o.KindKubeconfig); derr != nil {
				err = errors.Join(err, fmt.Errorf("delete kind cluster %s: %w", c.o.ClusterName, derr))
				if code == exitSame {
					code = exitError
				}
			}
		}()
	} else if c.o.Kubeconfig == "" {
		defer fmt.Fprintf(c.out, "kind cluster %s kept (kubeconfig %s): delete it with kind delete cluster --name %s\n",
			c.o.ClusterName, c.o.KindKubeconfig, c.o.ClusterName)
	}
	for _, dir := range []string{"from", "to"} {
		// a fingerprint from an earlier check must not stand in for this one
		if err := os.Remove(filepath.Join(c.o.ReportDir, dir, fingerprint.FileName)); err != nil && !os.IsNotExist(err) {
			return exitError, err
		}
	}
	rev := c.o.Revision()
	defer func() {
		if c.traffic != nil { // a step failed before traffic-check
			_, _ = c.traffic.rec.Stop()
			_ = c.traffic.close(context.WithoutCancel(ctx))
		}
	}()
	for _, s := range steps {
		fmt.Fprintf(c.out, "== %s\n", s.Name)
		if err := ctx.Err(); err != nil {
			return exitError, fmt.Errorf("interrupted before %s: %w", s.Name, err)
		}
		switch s.Name {
		case StepSpecsFrom, StepSpecsTo:
			dir, version, tag := filepath.Join(c.o.ReportDir, "from"), c.o.From, "from"
			if s.Name == StepSpecsTo {
				dir, version, tag = filepath.Join(c.o.ReportDir, "to"), c.o.To, "to"
			}
			if err := c.d.runCmd(ctx, s.Argv, childEnv(c.d.environ(), s.Env), "["+tag+" "+version+"]", c.out); err != nil {
				fmt.Fprintf(c.out, "upgrade-check: the specs on Istio %s failed (%v); going on: the failures are in the fingerprint\n", version, err)
			}
			if _, err := os.Stat(filepath.Join(dir, fingerprint.FileName)); err != nil {
				return exitError, fmt.Errorf("%s: the specs on Istio %s wrote no fingerprint (%v): see their output above", s.Name, version, err)
			}
		case StepTrafficStart:
			kube, err := c.client()
			if err != nil {
				return exitError, err
			}
			if c.d.startTraffic == nil {
				return exitError, fmt.Errorf("%s: no way to send traffic", s.Name)
			}
			t, err := c.d.startTraffic(ctx, c.o, kube, c.out)
			if err != nil {
				return exitError, fmt.Errorf("%s: %w", s.Name, err)
			}
			c.traffic = t
			if err := t.rec.AwaitBatches(ctx, 5); err != nil {
				return exitError, fmt.Errorf("%s: the traffic does not flow before the upgrade: %w", s.Name, err)
			}
			fmt.Fprintf(c.out, "upgrade: steady traffic from %s flows (phase %q)\n", trafficClient, PhaseBefore)
		case StepTrafficCheck:
			if c.traffic == nil {
				return exitError, fmt.Errorf("%s without %s", s.Name, StepTrafficStart)
			}
			c.phase(ctx, PhaseAfter)
			if err := c.traffic.rec.AwaitBatches(ctx, 5); err != nil {
				fmt.Fprintf(c.out, "upgrade: %v\n", err)
			}
			t := c.traffic
			c.traffic = nil
			tl, v, err := finishTraffic(ctx, t, c.o.ReportDir, c.out)
			if err != nil {
				return exitError, err
			}
			c.trafficViolations = v
			c.trafficTimeline = pageTimeline(tl)
		case StepUpgrade:
			c.phase(ctx, PhaseIstiod)
			if err := c.d.runCmd(ctx, s.Argv, childEnv(c.d.environ(), s.Env), "[istioctl "+c.o.To+"]", c.out); err != nil {
				return exitError, fmt.Errorf("upgrade Istio %s -> %s: %w", c.o.From, c.o.To, err)
			}
		case StepRelabel:
			c.phase(ctx, PhaseRelabel)
			kube, err := c.client()
			if err != nil {
				return exitError, err
			}
			nss, err := kind.RelabelNamespaces(ctx, kube, rev, c.out)
			if err != nil {
				return exitError, err
			}
			fmt.Fprintf(c.out, "upgrade: %d namespaces moved to revision %s\n", len(nss), rev)
		case StepRestart:
			c.phase(ctx, PhaseSidecars)
			kube, err := c.client()
			if err != nil {
				return exitError, err
			}
			nss, err := kind.InjectedNamespaces(ctx, kube, rev)
			if err != nil {
				return exitError, err
			}
			done, err := kind.RestartDeployments(ctx, kube, nss, c.d.now(), c.out)
			if err != nil {
				return exitError, err
			}
			fmt.Fprintf(c.out, "upgrade: %d deployments restarted in %d namespaces\n", len(done), len(nss))
		case StepWait:
			kube, err := c.client()
			if err != nil {
				return exitError, err
			}
			w := kind.UpgradeWait{Revision: rev, Version: c.o.To, Poll: c.d.poll, Timeout: c.o.WaitTimeout}
			if err := kind.WaitForUpgrade(ctx, kube, w, c.out); err != nil {
				return exitError, fmt.Errorf("upgrade to Istio %s: %w", c.o.To, err)
			}
		case StepDiff:
			return c.diff()
		default:
			return exitError, fmt.Errorf("unknown step %q", s.Name)
		}
	}
	return exitError, fmt.Errorf("the plan has no %s step", StepDiff)
}

// diff compares the fingerprints as cmd/fingerprint-diff does.
func (c *checker) diff() (int, error) {
	a, err := fingerprint.Read(filepath.Join(c.o.ReportDir, "from", fingerprint.FileName))
	if err != nil {
		return exitError, err
	}
	b, err := fingerprint.Read(filepath.Join(c.o.ReportDir, "to", fingerprint.FileName))
	if err != nil {
		return exitError, err
	}
	fmt.Fprintf(c.out, "old: %s on %s (%d scenarios)\nnew: %s on %s (%d scenarios)\n",
		a.IstioVersion, a.Backend, len(a.Scenarios), b.IstioVersion, b.Backend, len(b.Scenarios))
	changes := fingerprint.Diff(a, b, fingerprint.DiffOptions{})
	fmt.Fprint(c.out, fingerprint.Header(a, b, fingerprint.DiffOptions{}))
	fmt.Fprint(c.out, fingerprint.Format(changes))
	nc := fingerprint.NotComparable(a, b, fingerprint.DiffOptions{})
	fmt.Fprint(c.out, fingerprint.FormatNotComparable(nc))
	page := report.UpgradeFromFingerprints(a, b, changes)
	page.From.Page, page.To.Page = "from/"+report.FileName, "to/"+report.FileName
	page.Method = strings.TrimSpace(fingerprint.Header(a, b, fingerprint.DiffOptions{}))
	page.Timeline = c.trafficTimeline
	for _, x := range nc {
		page.NotComparable = append(page.NotComparable, x.Scenario+": "+x.What)
	}
	if path, err := report.WriteUpgrade(c.o.ReportDir, page); err != nil {
		fmt.Fprintf(c.out, "upgrade-check: the upgrade page could not be written: %v\n", err)
	} else {
		fmt.Fprintf(c.out, "upgrade page: %s (open it in a browser)\n", path)
	}
	if len(c.trafficViolations) > 0 {
		fmt.Fprintf(c.out, "upgrade-check: Istio %s -> %s: the steady traffic during the upgrade broke its invariants (%d violations, %s)\n",
			c.o.From, c.o.To, len(c.trafficViolations), filepath.Join(c.o.ReportDir, TimelineFile))
		return exitChanged, nil
	}
	if len(changes) > 0 {
		fmt.Fprintf(c.out, "upgrade-check: Istio %s -> %s changes locality load balancing behaviour (%d changes)\n", c.o.From, c.o.To, len(changes))
		return exitChanged, nil
	}
	fmt.Fprintf(c.out, "upgrade-check: Istio %s -> %s: no behavioural change\n", c.o.From, c.o.To)
	return exitSame, nil
}

// childEnv is the inherited environment without make's own flags (a
// variable given on the outer make's command line, e.g. ISTIO_VERSION=,
// would otherwise reach `make specs` through MAKEFLAGS and beat env), with
// extra added last (the last value of a key wins).
func childEnv(inherited, extra []string) []string {
	out := make([]string, 0, len(inherited)+len(extra))
	for _, kv := range inherited {
		k, _, _ := strings.Cut(kv, "=")
		if k == "MAKEFLAGS" || k == "MFLAGS" || k == "MAKEOVERRIDES" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
