"""A running node's Prometheus endpoint: the promised metrics, and no label value that
an attacker or a peer controls (no IP address, no domain)."""

from __future__ import annotations

import ipaddress
import re
import signal
import urllib.request
from pathlib import Path

from tests.support import SAMPLES, read_serve_info, run_cli, spawn_cli, wait_for

EXPECTED = ("decnet_fed_events", "decnet_fed_observations", "decnet_fed_identities",
            "decnet_fed_campaigns", "decnet_fed_field_rejections", "decnet_fed_rpcs_total",
            "decnet_fed_rpc_seconds", "decnet_fed_signature_failures_total",
            "decnet_fed_budget_refusals_total", "decnet_fed_gossip_rounds_total",
            "decnet_fed_gossip_duplicate_deliveries_total", "decnet_fed_peers")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$", re.IGNORECASE)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:  # noqa: S310
        return str(answer.read().decode())


def assert_no_attacker_labels(body: str) -> None:
    """No label value in a scrape is an IP address or a domain name."""
    for _, value in _LABEL.findall(body):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            pass
        else:
            raise AssertionError(f"an IP address in a label: {value}")
        assert not _DOMAIN.match(value), f"a domain in a label: {value}"


def test_metrics_are_served_and_no_label_names_an_attacker(tmp_path: Path) -> None:
    home = tmp_path / "node"
    run_cli(home, "init", "--name", "metered")
    run_cli(home, "ingest", *map(str, sorted(SAMPLES.iterdir())), check=False)
    proc = spawn_cli(home, "serve", "--listen", "127.0.0.1:0", "--health-listen", "",
                     "--metrics-listen", "127.0.0.1:0", "--json")
    try:
        port = int(read_serve_info(proc)["metrics"].rpartition(":")[2])
        run_cli(home, "peers", "check", check=False)  # no peers: nothing asked, still fine
        wait_for(lambda: "decnet_fed_observations " in scrape(port)
                 and not re.search(r"^decnet_fed_observations 0\.0$", scrape(port), re.M),
                 "the totals read from the store")
        body = scrape(port)
        for name in EXPECTED:  # labelled series appear once something is counted
            assert re.search(rf"^# HELP {name.removesuffix('_bucket')} ", body, re.M), name
        assert_no_attacker_labels(body)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
