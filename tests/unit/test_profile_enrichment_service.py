"""Enrichment as views use it: configured files, PTR resolved once per IP and cached."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.config import load_config
from node.profile.enrichment.ptr import PtrLookup
from node.profile.enrichment.service import Enricher
from node.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "node.db")
    yield opened
    await opened.close()


async def test_ptr_is_resolved_once_and_cached_in_the_store(store: Store) -> None:
    asked: list[str] = []

    async def resolver(ip: str) -> str | None:
        asked.append(ip)
        return "scanner.example.net."

    enricher = Enricher(Enricher.empty().countries, Enricher.empty().asns,
                        PtrLookup(resolver, timeout_s=1.0, concurrency=2))
    first = await enricher.describe(store, "8.8.8.8")
    again = await Enricher(enricher.countries, enricher.asns,
                           PtrLookup(resolver)).describe(store, "8.8.8.8")
    assert first["ptr"] == again["ptr"] == "scanner.example.net"
    assert first["ptr_status"] == "ok"
    assert asked == ["8.8.8.8"]


async def test_private_addresses_and_disabled_ptr_ask_nobody(store: Store) -> None:
    async def resolver(ip: str) -> str | None:
        raise AssertionError(f"asked about {ip}")

    enricher = Enricher(Enricher.empty().countries, Enricher.empty().asns, PtrLookup(resolver))
    assert (await enricher.describe(store, "10.0.0.1"))["ptr_status"] == "skipped"
    assert (await Enricher.empty().describe(store, "8.8.8.8"))["ptr_status"] == "disabled"


async def test_files_come_from_the_config(tmp_path: Path, store: Store) -> None:
    (tmp_path / "rir").write_text("x|SE|ipv4|8.8.8.0|256|20200101|assigned\n", encoding="utf-8")
    (tmp_path / "asn.tsv").write_text("8.8.8.0\t8.8.8.255\t15169\tUS\tGOOGLE\n", encoding="utf-8")
    config = load_config(tmp_path, {"DECNET_FED_ENRICHMENT_RIR_PATHS": "rir",
                                    "DECNET_FED_ENRICHMENT_IP2ASN_PATH": "asn.tsv",
                                    "DECNET_FED_ENRICHMENT_PTR_ENABLED": "false"})
    described = await Enricher.from_config(config).describe(store, "8.8.8.8")
    assert (described["country"], described["asn"], described["as_name"]) == \
        ("SE", 15169, "GOOGLE")
    assert described["ptr_status"] == "disabled"
