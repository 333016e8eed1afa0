"""Bus traffic counters, shared by the server and client sides of every process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter("kstore_bus_messages", "Bus frames sent or received.", ["direction", "channel"])
BYTES = Counter("kstore_bus_bytes", "Bus payload bytes sent or received.", ["direction", "channel"])
MALFORMED = Counter(
    "kstore_bus_malformed_frames", "Frames refused as malformed (garbage, wrong types, unknown verb, oversized).",
    ["reason"],
)
GAPS = Counter("kstore_bus_gaps", "Event sequence gaps detected by subscribers.", ["topic"])
STALLS = Counter("kstore_bus_stalls", "Event streams that went silent past the stall timeout.", ["topic"])
RELISTS = Counter("kstore_bus_relists", "Informer re-lists after a gap, stall, reconnect or store restart.", ["kind"])
RPC_DURATION = Histogram(
    "kstore_bus_rpc_duration_seconds",
    "Round trip of bus RPCs seen by the client.",
    ["verb"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
