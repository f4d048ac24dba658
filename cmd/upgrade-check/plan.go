package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/localitylb/locality-e2e/framework/kind"
	"github.com/localitylb/locality-e2e/framework/timeline"
)

// Options are the command's flags, plus what it reads from the
// environment (Kubeconfig, Profile) and where kind writes its kubeconfig.
type Options struct {
	From, To     string // Istio releases (--from, --to)
	IstioctlFrom string // --istioctl-from, default bin/istioctl-<from>
	IstioctlTo   string // --istioctl-to, default bin/istioctl-<to>
	Canary       bool   // --canary: second control plane istiod-<rev> instead of an in-place upgrade
	ReportDir    string // --report-dir: <dir>/from, <dir>/to
	KeepCluster  bool   // --keep-cluster
	DryRun       bool   // --dry-run: print the plan only
	ClusterName  string // --cluster-name
	WaitTimeout  time.Duration

	Make           string // make binary ($MAKE, else make)
	Profile        string // LOCALITY_E2E_ISTIO_PROFILE, default minimal
	Kubeconfig     string // LOCALITY_E2E_KUBECONFIG: an existing cluster, never created nor deleted
	KindKubeconfig string // where the kind backend writes the kind cluster's kubeconfig
}

// Defaults of the flags.
const (
	DefaultReportDir   = "reports/upgrade"
	DefaultClusterName = "locality-e2e-upgrade"
	DefaultWaitTimeout = 10 * time.Minute
	installReadiness   = 5 * time.Minute // istioctl --readiness-timeout, as the kind backend's default
)

// DefaultIstioctl is where `make istioctl ISTIO_VERSION=<version>` puts
// istioctl.
func DefaultIstioctl(version string) string { return filepath.Join("bin", "istioctl-"+version) }

// Validate checks the flags alone (no file system), naming the flag.
func (o Options) Validate() error {
	var errs []string
	for _, f := range []struct{ flag, v string }{{"--from", o.From}, {"--to", o.To}} {
		switch {
		case f.v == "":
			errs = append(errs, fmt.Sprintf("%s is required: the Istio release to %s, e.g. %s=%s",
				f.flag, map[string]string{"--from": "start from", "--to": "upgrade to"}[f.flag], f.flag, kind.DefaultIstioVersion))
		case !kind.ValidIstioVersion(f.v):
			errs = append(errs, fmt.Sprintf("%s=%q is not an Istio release version: use MAJOR.MINOR.PATCH with an optional -alpha, -beta or -rc suffix, e.g. %s or 1.31.0-rc.4", f.flag, f.v, kind.DefaultIstioVersion))
		}
	}
	if o.From != "" && o.From == o.To {
		errs = append(errs, fmt.Sprintf("--from and --to are both %s: an upgrade check needs two different releases", o.From))
	}
	if o.ReportDir == "" {
		errs = append(errs, "--report-dir is empty: the fingerprints go to <report-dir>/from and <report-dir>/to, e.g. "+DefaultReportDir)
	} else if i := strings.IndexAny(o.ReportDir, "$\n"); i >= 0 {
		// The dir is one argv word of `make specs REPORT_DIR=...` and the
		// Makefile's recipes quote it ("$$REPORT_DIR"), so spaces, quotes
		// and ';' are safe; make itself expands $(...) in a variable's
		// value, and a newline ends a make assignment.
		errs = append(errs, fmt.Sprintf("--report-dir=%q contains '%s': make would expand it (make specs REPORT_DIR=...): choose a folder name without '$' or a newline", o.ReportDir, strings.ReplaceAll(o.ReportDir[i:i+1], "\n", `\n`)))
	}
	if o.Kubeconfig == "" && o.ClusterName == "" {
		errs = append(errs, "--cluster-name is empty: name the kind cluster, e.g. "+DefaultClusterName)
	} else if o.Kubeconfig == "" && !kind.ValidClusterName(o.ClusterName) {
		errs = append(errs, fmt.Sprintf("--cluster-name=%q is not a kind cluster name: use lower-case letters, digits and '-' (not first or last), at most 50 characters, e.g. %s", o.ClusterName, DefaultClusterName))
	}
	if o.WaitTimeout <= 0 {
		errs = append(errs, fmt.Sprintf("--wait-timeout %v must be positive", o.WaitTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("upgrade-check: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Revision is the canary revision, "" for an in-place upgrade.
func (o Options) Revision() string {
	if !o.Canary {
		return ""
	}
	return kind.CanaryRevision(o.To)
}

// kubeconfig is the cluster's kubeconfig during the check.
func (o Options) kubeconfig() string {
	if o.Kubeconfig != "" {
		return o.Kubeconfig
	}
	return o.KindKubeconfig
}

// Step is one step of the check: a command (Argv, with Env added to the
// inherited environment) or, with Argv nil, work done in-process (Does).
type Step struct {
	Name string
	Argv []string
	Env  []string
	Does string
}

// Step names.
const (
	StepSpecsFrom     = "specs-from"
	StepTrafficStart  = "traffic-start"
	StepTrafficCheck  = "traffic-check"
	StepUpgrade       = "upgrade-istio"
	StepRelabel       = "relabel-namespaces"
	StepRestart       = "restart-deployments"
	StepWait          = "wait-for-upgrade"
	StepSpecsTo       = "specs-to"
	StepDiff          = "diff"
	StepDeleteCluster = "delete-cluster"
)

// Plan is the check's steps for o, a pure function of o.
func Plan(o Options) []Step {
	from, to := filepath.Join(o.ReportDir, "from"), filepath.Join(o.ReportDir, "to")
	rev, kc := o.Revision(), o.kubeconfig()
	specs := func(name, dir, version, istioctl string, reuse bool, revision string) Step {
		env := []string{
			kind.EnvClusterName + "=" + o.ClusterName,
			kind.EnvIstioVersion + "=" + version,
			kind.EnvIstioctl + "=" + istioctl,
			kind.EnvKeepCluster + "=true",
			kind.EnvReuseCluster + "=" + fmt.Sprint(reuse && o.Kubeconfig == ""),
			kind.EnvIstioRevision + "=" + revision,
		}
		return Step{Name: name, Argv: []string{o.Make, "specs", "BACKEND=kind", "REPORT_DIR=" + dir}, Env: env}
	}
	steps := []Step{specs(StepSpecsFrom, from, o.From, o.IstioctlFrom, false, ""),
		Step{Name: StepTrafficStart, Does: fmt.Sprintf("deploy three-zones with the %s rule and send steady traffic from %s (batches of %d) until %s",
			trafficRule, trafficClient, timeline.DefaultBatch, StepTrafficCheck)},
	}
	if o.Canary {
		steps = append(steps,
			Step{Name: StepUpgrade, Argv: kind.IstioctlCanaryInstallArgs(o.IstioctlTo, kc, o.Profile, rev, installReadiness)},
			Step{Name: StepRelabel, Does: fmt.Sprintf("namespaces labelled istio-injection=enabled get %s=%s instead", kind.LabelRevision, rev)},
		)
	} else {
		steps = append(steps, Step{Name: StepUpgrade, Argv: kind.IstioctlUpgradeArgs(o.IstioctlTo, kc, o.Profile, installReadiness)})
	}
	injected := "istio-injection=enabled"
	if rev != "" {
		injected = kind.LabelRevision + "=" + rev
	}
	steps = append(steps,
		Step{Name: StepRestart, Does: "rollout restart of every Deployment in the namespaces labelled " + injected},
		Step{Name: StepWait, Does: fmt.Sprintf("wait up to %v for %s/%s %s ready, then for every sidecar in namespaces labelled %s to run %s",
			o.WaitTimeout, kind.IstioNamespace, kind.IstiodDeploymentName(rev), o.To, injected, o.To)},
		Step{Name: StepTrafficCheck, Does: fmt.Sprintf("stop the traffic; no request may leave %s, errors ≤ %.1f‰, traffic before and after; timeline in %s (exit 1 otherwise)",
			trafficLocality, 1000*TrafficMaxErrorFraction, filepath.Join(o.ReportDir, TimelineFile))},
		specs(StepSpecsTo, to, o.To, o.IstioctlTo, true, rev),
		Step{Name: StepDiff, Does: fmt.Sprintf("fingerprint diff %s %s (exit 1 on a behavioural change)",
			filepath.Join(from, "fingerprint.json"), filepath.Join(to, "fingerprint.json"))},
	)
	if o.Kubeconfig == "" && !o.KeepCluster {
		steps = append(steps, Step{Name: StepDeleteCluster, Does: "kind delete cluster --name " + o.ClusterName + " (also when a step fails)"})
	}
	return steps
}

// FormatPlan is the plan as --dry-run prints it: one block per step, the
// environment and argv shell-quoted, so it can be run by hand.
func FormatPlan(o Options, steps []Step) string {
	var b strings.Builder
	mode := "in place"
	if o.Canary {
		mode = "canary, revision " + o.Revision()
	}
	where := "new kind cluster " + o.ClusterName + " (kubeconfig " + o.kubeconfig() + ")"
	if o.Kubeconfig != "" {
		where = "existing cluster of " + kind.EnvKubeconfig + "=" + o.Kubeconfig
	}
	fmt.Fprintf(&b, "upgrade check Istio %s -> %s (%s) on %s, profile %s, reports in %s\n", o.From, o.To, mode, where, o.Profile, o.ReportDir)
	for i, s := range steps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, s.Name)
		if s.Argv == nil {
			fmt.Fprintf(&b, "   in-process: %s\n", s.Does)
			continue
		}
		words := make([]string, 0, len(s.Env)+len(s.Argv))
		for _, e := range s.Env {
			words = append(words, quote(e))
		}
		for _, a := range s.Argv {
			words = append(words, quote(a))
		}
		fmt.Fprintf(&b, "   %s\n", strings.Join(words, " "))
	}
	return b.String()
}

// quote shell-quotes s when it needs it.
func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
