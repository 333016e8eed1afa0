"""coordination.k8s.io/v1 (k8s.io/api/coordination/v1/types.go): Lease."""

from __future__ import annotations

from kstore.api.schema.dsl import COORDINATION, i32, mt, package, ref, s

obj, kind = package(COORDINATION)

kind(
    "Lease",
    "A lease: leader election, node heartbeats.",
    "coordination.k8s.io",
    "v1",
    spec=ref("LeaseSpec", "The specification of the lease."),
)
obj(
    "LeaseSpec",
    "The specification of a lease.",
    holderIdentity=s("Identity of the current holder of the lease."),
    leaseDurationSeconds=i32(
        "Seconds candidates wait before forcefully acquiring the lease, from renewTime."
    ),
    acquireTime=mt("When the current holder acquired the lease."),
    renewTime=mt("When the current holder last renewed the lease."),
    leaseTransitions=i32("Number of transitions of the lease between holders."),
    strategy=s("Strategy for picking the leader in coordinated leader election."),
    preferredHolder=s("Holder preferred for the lease, signalling the current holder to release it."),
)
