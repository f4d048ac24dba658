// Package envoylb is a deterministic model of how an Envoy sidecar picks an
// upstream host for one cluster.
//
// The model is driven only by the *clusterv3.Cluster and
// *endpointv3.ClusterLoadAssignment protos that istiod generates (and the
// route's retry_policy, see RetryPolicyFromRoute); it contains no
// scenario-specific code. Every rule mirrors an Envoy source file, and the
// package is laid out the same way:
//
//	lb.go                 cluster glue: CDS/EDS updates, workers, router try loop
//	                      (cluster_manager_impl.cc, extensions/clusters/eds/eds.cc,
//	                      router.cc)
//	host_set.go           host health flags, healthy/degraded/excluded partition,
//	                      locality grouping and weights, EDS duplicate addresses
//	                      (only the first is kept) (upstream_impl.cc
//	                      PriorityStateManager, eds.cc BatchUpdateHelper)
//	priority_load.go      priority load, degraded load, panic
//	                      (load_balancing_policies/common/load_balancer_impl.cc)
//	locality_scheduler.go EDF scheduler with initial picks, locality WRR
//	                      (edf_scheduler.h, load_balancing_policies/common/locality_wrr.cc)
//	host_policies.go      host source choice, ROUND_ROBIN, LEAST_REQUEST, RANDOM
//	                      (load_balancer_impl.cc hostSourceToUse,
//	                      EdfLoadBalancerBase, round_robin, least_request, random)
//	zone_aware.go         zone aware routing: the local cluster (SetLocalCluster),
//	                      regenerateLocalityRoutingStructures, early exits,
//	                      local_percent_to_route, residual capacity,
//	                      fail_traffic_on_panic, lb_* counters (LBStats)
//	                      (load_balancer_impl.cc ZoneAwareLoadBalancerBase)
//	outlier.go            outlier detection (outlier_detection_impl.cc)
//	retry.go              retry policy, previous_hosts, previous_priorities
//	                      (retry_state_impl.cc, retry/host/previous_hosts,
//	                      retry/priority/previous_priorities)
//	unsupported.go        configuration the model refuses, with the Istio field
//	                      that produces it
//	state.go              admin snapshot (/clusters, config_dump)
//	predict.go            expected shares per priority, locality and host
//	                      (Predict, LB.Prediction) from the code above
//
// Zone aware routing for backends: feed the sidecar's local_cluster
// assignment with LB.SetLocalCluster after New (New starts without a local
// cluster; Update keeps it), and Options.LocalLocality must be the
// sidecar's locality. LB.LBStats gives Envoy's lb_* counters for /stats.
// explain reads a backend's local_cluster through a method
// ClientLocalCluster(client string) (*endpointv3.ClusterLoadAssignment,
// error) on its mesh (framework/explain/zoneaware.go; nil = none) and
// passes it as PredictOptions.LocalCluster.
//
// Paths are relative to github.com/envoyproxy/envoy source/ (common/upstream,
// extensions/..., common/router).
//
// Randomness: each worker has its own deterministic RNG (Options.Seed); it
// stands for Envoy's random generator, so sequences depend on the seed but
// every algorithm consuming randomness is Envoy's (choosePriority's
// hash % 100, EDF createWithPicks(seed), round robin start at seed_, least
// request's N random choices). Requests are assigned to workers round-robin.
// Time comes only from Options.Clock (outlier detection interval ticks);
// outlier detection draws enforcement and max_ejection_time_jitter from its
// own RNG.
//
// Not modelled (refused at New/Update when configured, see unsupported.go,
// or documented as a difference):
//   - outlier detection extension monitors (outlier_detection_impl.cc
//     DetectorConfig monitors);
//   - active health checks and successful_active_health_check_uneject_host
//     (source/common/upstream/health_checker_impl.cc); Istio does not
//     configure them for sidecars;
//   - slow start / warmup (load_balancer_impl.cc applySlowStartFactor);
//   - zone aware routing is modelled for everything the Cluster proto's
//     common_lb_config.zone_aware_lb_config has (routing_enabled,
//     min_cluster_size, fail_traffic_on_panic;
//     LoadBalancerConfigHelper::localityLbConfigFromCommonLbConfig copies
//     exactly these). Not modelled: force_locality_direct_routing,
//     locality_basis (HEALTHY_HOSTS_WEIGHT / ORCA_LOAD) and use_host_weight,
//     which exist only in the typed LocalityLbConfig of
//     load_balancing_policy (refused with it); runtime overrides of
//     upstream.zone_routing.* (Istio sets none: the config values apply);
//     outlier detection on the local cluster (its hosts' health is their
//     EDS health_status); local cluster priorities other than 0 (Envoy
//     uses host set 0 only);
//   - lb_subset_config (load_balancing_policies/subset/subset_lb.cc), RING_HASH
//     and MAGLEV (ring_hash_lb.cc, maglev_lb.cc), typed load_balancing_policy
//     extensions (override_host, client_side_weighted_round_robin, ...);
//   - preconnect / peekAnotherHost (load_balancer_impl.cc peekAnotherHost);
//   - retry back-off timing (retry_state_impl.cc enableBackoffTimer: the
//     virtual clock does not advance between tries), retry budgets and the
//     circuit breakers' max_retries (resource_manager_impl.h), hedging
//     (router.cc hedge_on_per_try_timeout), x-envoy-* retry request headers,
//     envoy-ratelimited (needs x-envoy-ratelimited response headers),
//     retriable-headers with retriable_headers, retriable_request_headers;
//   - HTTP/3 0-RTT retries (retry_state_impl.cc TooEarly handling);
//   - the asynchrony of Envoy's threads: outlier ejections posted to the main
//     thread and host set updates posted to workers happen immediately;
//   - drop_overloads (refused) and the circuit breakers' pending/active
//     request limits (upstream_impl.cc ResourceManagerImpl).
package envoylb
