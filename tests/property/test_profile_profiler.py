"""Whatever the field values, profiling a batch never fails the batch."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.event import Event
from node.profile.profiler import Profiler
from node.profile.stages import PROFILE_STAGES
from node.store import Store

_KINDS = sorted(Profiler()._handlers)
_FIELDS = ["value", "rcpt_to", "ja3", "ja4", "ja4h", "ja4_quic", "hassh", "ssh_version",
           "jarm_hash", "hassh_server_hash", "ssh_banner", "tcpfp_hash", "cert_sha256",
           "target_port", "ipv6_addr", "username", "password", "secret_printable", "secret_b64",
           "session", "cmd", "shasum", "sha256", "url", "dst_ip", "dst_port",
           "attachments_json", "urls_json", "body_simhash", "sid", "service", "duration_s",
           "t", "ch", "d", "width", "height", "timestamp"]
_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_events = st.builds(
    lambda i, time_us, sensor, service, kind, ip, fields: Event(
        i.to_bytes(16, "big"), time_us, sensor, service, kind, ip, fields, "collector"),
    st.integers(0, 2**64), st.integers(0, 2**52), _text, st.sampled_from(["smtp", "ssh", "x"]),
    st.sampled_from(_KINDS), st.sampled_from([None, "192.0.2.1", "2001:db8::1"]),
    st.dictionaries(st.sampled_from(_FIELDS), _text, max_size=8),
)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_events, max_size=30, unique_by=lambda e: e.key))
async def test_any_fields_are_profiled_or_rejected_never_fatal(events: list[Event]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "node.db", profilers=[Profiler()],
                                 stages=PROFILE_STAGES)
        try:
            assert await store.write_batch(events) == len(events)
            await store.catch_up()
            await store.catch_up()
        finally:
            await store.close()
