"""Source addresses for simulated attackers: distinct hosts of 198.18.0.0/15, drawn by seed.

RFC 2544 reserves 198.18.0.0/15 for benchmarking, so a simulated address is
never a real attacker's. The profiler counts the range as non-public (a C2
host there is dropped), which is harmless: attackers are sources here, never
servers. Host numbers .0 and .255 are skipped so every address looks like a host.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Final

from node.errors import ScenarioError

BENCHMARK_NETWORK: Final = ipaddress.IPv4Network("198.18.0.0/15")
_HOSTS_PER_24: Final = 254
#: How many distinct source addresses a simulation can hand out.
CAPACITY: Final = BENCHMARK_NETWORK.num_addresses // 256 * _HOSTS_PER_24


def allocate_addresses(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct addresses in a seed-determined order."""
    if count > CAPACITY:
        raise ScenarioError(f"(top level): needs {count:,} source addresses;"
                            f" {BENCHMARK_NETWORK} has {CAPACITY:,}")
    base = int(BENCHMARK_NETWORK.network_address)
    return [str(ipaddress.IPv4Address(base + i // _HOSTS_PER_24 * 256 + i % _HOSTS_PER_24 + 1))
            for i in rng.sample(range(CAPACITY), count)]
