"""Node keys and the trust store: creation, modes, text form, key ids, peers add/remove."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from federation.errors import KeyFileError, TrustStoreError
from federation.keys import (
    NodeKey,
    PeerKey,
    check_public_key,
    create_key_file,
    ensure_key_file,
    key_id_for,
    load_key_file,
    parse_public_key,
)
from federation.trust import TrustStore, check_address


def test_created_key_file_is_private_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    key = create_key_file(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_key_file(path).public == key.public


def test_create_key_file_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    create_key_file(path)
    with pytest.raises(KeyFileError, match="exists"):
        create_key_file(path)


def test_ensure_key_file_creates_once(tmp_path: Path) -> None:
    first, created = ensure_key_file(tmp_path / "node.key")
    again, created_again = ensure_key_file(tmp_path / "node.key")
    assert (created, created_again) == (True, False)
    assert first.key_id == again.key_id


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_group_or_world_readable_key_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "node.key"
    create_key_file(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key_file(path)


def test_missing_or_garbled_key_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="decnet-fed init"):
        load_key_file(tmp_path / "none.key")
    bad = tmp_path / "bad.key"
    bad.write_bytes(b"not a key")
    bad.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a PEM"):
        load_key_file(bad)


def test_public_key_text_round_trips_and_key_id_is_short_hash() -> None:
    key = NodeKey.generate()
    assert parse_public_key(key.public.text) == key.public.raw
    assert parse_public_key("ed25519:" + key.public.text.rstrip("=")) == key.public.raw
    assert key.key_id == key_id_for(key.public.raw)
    assert len(key.key_id) == 16 and int(key.key_id, 16) >= 0


@pytest.mark.parametrize("text", ["", "!!!", "AAAA", "A" * 100])
def test_bad_public_keys_are_refused(text: str) -> None:
    with pytest.raises(KeyFileError):
        parse_public_key(text)


# The key from the bug report: base64 of the identity point (y = 1, x = 0). Under
# it the 64 bytes 01 || 00*63 "verify" for any message without a private key.
IDENTITY_KEY_TEXT = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
FORGED_SIGNATURE = b"\x01" + b"\x00" * 63


def test_identity_public_key_is_refused_by_parse_peer_key_and_trust_store() -> None:
    raw = bytes([1]) + bytes(31)
    with pytest.raises(KeyFileError, match="small-order Ed25519 public key refused"):
        parse_public_key(IDENTITY_KEY_TEXT)
    with pytest.raises(KeyFileError, match="small-order"):
        PeerKey(raw)
    with pytest.raises(TrustStoreError, match="small-order"):
        TrustStore().add("weak", "127.0.0.1:1", IDENTITY_KEY_TEXT)


def test_trust_file_naming_a_small_order_key_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "peers.json"
    path.write_text('{"peers": [{"name": "weak", "address": "127.0.0.1:1", "public_key": "'
                    + IDENTITY_KEY_TEXT + '"}]}', encoding="utf-8")
    with pytest.raises(TrustStoreError, match="small-order"):
        TrustStore.load(path)


def test_real_key_passes_the_check_and_refuses_the_forged_signature() -> None:
    key = NodeKey.generate()
    assert check_public_key(key.public.raw) == key.public.raw
    assert not key.public.verifies(FORGED_SIGNATURE, b"any message")
    assert key.public.verifies(key.sign(b"any message"), b"any message")


@pytest.mark.parametrize(("raw", "reason"), [
    (bytes(31), "must be 32 bytes"),
    (b"\xff" * 31 + b"\x7f", "non-canonical"),  # y = 2^255 - 1 >= p
    (bytes([1]) + bytes(30) + b"\x80", "non-canonical"),  # y = 1 with x = -0
    (bytes([2]) + bytes(31), "not a point on Ed25519"),  # (y^2 - 1)/(d y^2 + 1) not square
], ids=["short", "y-too-big", "minus-zero-x", "off-curve"])
def test_malformed_raw_public_keys_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(KeyFileError, match=reason):
        check_public_key(raw)
    with pytest.raises(KeyFileError, match=reason):
        PeerKey(raw)


def test_trust_store_add_list_remove_persist(tmp_path: Path) -> None:
    path = tmp_path / "peers.json"
    store = TrustStore.load(path)
    a, b = NodeKey.generate(), NodeKey.generate()
    store.add("bravo", "10.0.0.2:50551", b.public.text)
    store.add("alpha", "[::1]:50551", a.public.text)
    store.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = TrustStore.load(path)
    assert [p.name for p in loaded] == ["alpha", "bravo"]
    peer = loaded.by_key_id(a.key_id)
    assert peer is not None and peer.name == "alpha"
    loaded.remove("alpha")
    assert loaded.by_key_id(a.key_id) is None and len(loaded) == 1


def test_trust_store_refuses_duplicates_and_bad_entries() -> None:
    store = TrustStore()
    key = NodeKey.generate()
    store.add("alpha", "host:1", key.public.text)
    with pytest.raises(TrustStoreError, match="already exists"):
        store.add("alpha", "host:1", NodeKey.generate().public.text)
    with pytest.raises(TrustStoreError, match="already belongs"):
        store.add("beta", "host:1", key.public.text)
    with pytest.raises(TrustStoreError, match="name"):
        store.add("bad name", "host:1", NodeKey.generate().public.text)
    with pytest.raises(TrustStoreError, match="no peer"):
        store.remove("nobody")


@pytest.mark.parametrize("address", ["host", "host:0", "host:65536", ":80", "a b:1", "h:x"])
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(TrustStoreError):
        check_address(address)


def test_garbled_trust_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "peers.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(TrustStoreError, match="JSON"):
        TrustStore.load(path)
    path.write_text('{"peers": [{"name": "x"}]}', encoding="utf-8")
    with pytest.raises(TrustStoreError, match="need name"):
        TrustStore.load(path)
