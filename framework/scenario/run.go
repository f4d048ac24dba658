package scenario

// This file owns running a parsed scenario on a backend: Register (one
// Ordered Ginkgo container per file), ApplyRule and RunStep.

import (
	"context"
	"fmt"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/localitylb/locality-e2e/framework/destinationrule"
	"github.com/localitylb/locality-e2e/framework/mesh"
	"github.com/localitylb/locality-e2e/framework/split"
	"github.com/localitylb/locality-e2e/framework/steps"
	"github.com/localitylb/locality-e2e/framework/virtualservice"
)

// Register declares the scenario as one Ordered Ginkgo container (text
// ContainerText(s), labels s.Labels plus FileLabel): BeforeAll deploys the
// topology on backend() and applies the rules, each spec of the file is an
// It running its steps through framework/steps, a failed It gets
// steps.Diagnose, and the mesh is torn down after the last. Call it where
// Describe may be called: at the top level of a suite (a var initializer,
// or TestMain before m.Run), or before RunSpecs. backend is called in
// BeforeAll, once the suite has connected to its backend.
func Register(s *Scenario, backend func() mesh.Backend) bool {
	labels := append([]string{FileLabel}, s.Labels...)
	return Describe(ContainerText(s), Label(labels...), Ordered, types.CodeLocation{FileName: s.File, LineNumber: 1}, func() {
		var m mesh.Mesh
		BeforeAll(func(ctx SpecContext) {
			m = steps.Deploy(ctx, steps.DeployInput{Backend: backend(), Topology: s.Topology})
			for i := range s.Rules {
				ApplyRule(ctx, m, &s.Rules[i])
			}
		})
		AfterEach(func(ctx SpecContext) { steps.Diagnose(ctx, m) })
		for _, sp := range s.Specs {
			It(sp.It, types.CodeLocation{FileName: s.File, LineNumber: sp.Line}, func(ctx SpecContext) {
				for _, st := range sp.Steps {
					RunStep(ctx, m, st)
				}
			})
		}
	})
}

// ApplyRule aims a scenario's rule at the mesh's Service and applies it
// (a DestinationRule through steps.ApplyRule; a VirtualService replaces
// the topology's own, as steps.ApplyVirtualService does).
func ApplyRule(ctx context.Context, m mesh.Mesh, r *Rule) {
	topo := m.Topology()
	for _, w := range r.Warnings {
		GinkgoWriter.Printf("warning: %s\n", w)
	}
	switch {
	case r.DestinationRule != nil:
		steps.ApplyRule(ctx, m, destinationrule.ForTopology(r.DestinationRule, topo.Host(), topo.Namespace))
	case r.VirtualService != nil:
		vs := virtualservice.ForTopology(r.VirtualService, topo.Service, topo.Host(), topo.Namespace, topo.Port)
		data, _ := yaml.Marshal(vs.Spec.DeepCopy())
		By(fmt.Sprintf("applying VirtualService %s (%s) as %s", r.VirtualService.Name, r.Source, vs.Name))
		AddReportEntry("VirtualService "+r.VirtualService.Name, string(data), ReportEntryVisibilityFailureOrVerbose)
		Expect(m.ApplyVirtualService(ctx, vs)).To(Succeed())
	default:
		Fail("rule from " + r.Source + " is neither a DestinationRule nor a VirtualService")
	}
}

// RunStep runs one step with framework/steps.
func RunStep(ctx SpecContext, m mesh.Mesh, st Step) {
	switch st.Kind {
	case StepScale:
		steps.Scale(ctx, m, st.Workload, st.Replicas)
	case StepBreak:
		if (st.Fault == mesh.Fail5xx || st.Fault == mesh.Fail500) && !m.Capabilities().Fault5xx {
			Skip("this backend's workload image cannot answer 5xx (the seed's helloworld image); run with the default workload image")
		}
		steps.Break(ctx, m, st.Workload, st.Pods, st.Fault)
	case StepHeal:
		By(fmt.Sprintf("healing %s", st.Workload))
		Expect(m.SetFault(ctx, st.Workload, st.Pods, mesh.NoFault)).To(Succeed())
	case StepWait:
		steps.Wait(ctx, m, st.Duration)
	case StepWarm:
		steps.Warm(ctx, m, st.Client, st.Requests)
	case StepApply:
		ApplyRule(ctx, m, st.Rule)
	case StepExpectEndpoints:
		steps.ExpectEndpoints(ctx, steps.EndpointsInput{Mesh: m, Client: st.Client, View: st.View, Expected: st.Rows})
	case StepSend:
		exp := st.Expect
		if st.By == steps.ByPod {
			exp = perPod(ctx, m, st)
		}
		steps.SendAndExpectSplit(ctx, steps.SplitInput{Mesh: m, Client: st.Client, Requests: st.Requests, By: st.By, Expected: exp})
	default:
		Fail(fmt.Sprintf("unknown step %q", st.Kind))
	}
}

// perPod spreads each workload's share evenly over its current pods.
func perPod(ctx context.Context, m mesh.Mesh, st Step) split.Expected {
	pods, err := m.Pods(ctx)
	Expect(err).NotTo(HaveOccurred())
	byWorkload := map[string][]string{}
	for _, p := range pods {
		if p.Workload != "" {
			byWorkload[p.Workload] = append(byWorkload[p.Workload], p.Name)
		}
	}
	exp := split.Expected{}
	for w, share := range st.Expect {
		names := byWorkload[w]
		sort.Strings(names)
		if len(names) == 0 {
			Expect(share).To(BeZero(), "workload %s has no pods but is expected to get %v", w, share)
			continue
		}
		for _, n := range names {
			exp[n] = share / float64(len(names))
		}
	}
	var missing []string
	for w := range byWorkload {
		if _, ok := st.Expect[w]; !ok {
			missing = append(missing, w)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		GinkgoWriter.Printf("by pod: workloads %s are not in expect, so any request they answer fails the split\n", strings.Join(missing, ", "))
	}
	return exp
}
