"""Shared by the wattsweep workload entry points: flushed output, time windows, latency percentiles.

Every entry point prints one line per reporting window (default 5 s) with `key=value` fields that
the catalog regexes in deploy/workloads/*.toml read, and stops by itself after --seconds.
"""

import argparse
import math
import sys
import time


def say(*parts):
    """Print one line at once: the agent reads readiness and figures of merit as they come."""
    print(*parts, flush=True)


def base_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--seconds", type=float, required=True, help="stop after this long (warm-up + measure)")
    p.add_argument("--report-s", type=float, default=5.0, help="seconds per reported window")
    p.add_argument("--device", default="cuda", help="torch device (default cuda; the container sees one GPU or MIG slice)")
    return p


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


class Window:
    """Counts work and latencies over wall-clock windows of `length` seconds."""

    def __init__(self, length):
        self.length = length
        self.start = time.monotonic()
        self.items = 0
        self.events = 0
        self.latencies_ms = []

    def add(self, items=1, latency_ms=None):
        self.items += items
        self.events += 1
        if latency_ms is not None:
            self.latencies_ms.append(latency_ms)

    def due(self):
        return time.monotonic() - self.start >= self.length

    def close(self):
        """Elapsed seconds, item count, event count, sorted latencies; then start a new window."""
        now = time.monotonic()
        out = (now - self.start, self.items, self.events, sorted(self.latencies_ms))
        self.start, self.items, self.events, self.latencies_ms = now, 0, 0, []
        return out


def latency_fields(lat):
    return "p50_ms={:.2f} p95_ms={:.2f} p99_ms={:.2f}".format(
        percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
    )


def sync(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def describe_device(device):
    import torch

    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            sys.exit("error: no CUDA device visible to PyTorch (is the container started with a GPU?)")
        return torch.cuda.get_device_name(0)
    return str(device)
