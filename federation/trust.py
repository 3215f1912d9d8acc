"""The trust store: the peers this node answers and asks (name, address, public key).

Trust is explicit: a peer is trusted because its operator's public key was
added with ``decnet-fed peers add``. The store is a small JSON file in the
node home (``peers.json``, mode 0600), rewritten atomically on every change.

Each peer may also carry its TLS certificate (fetched from its address when it
is added, docs/protocol.md "Transport"): the server needs it to accept that
peer's client certificate. A certificate is kept only if its identity binding
verifies against the peer's public key, on add and on every load.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.errors import KeyFileError, PinMismatch, TrustStoreError
from federation.keys import PeerKey, parse_public_key, refuse_writable_by_others
from federation.tls import certificate_der, is_legacy_certificate, verify_binding

TRUST_FILENAME = "peers.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Peer:
    """One trusted peer."""

    name: str
    address: str
    key: PeerKey
    #: PEM of the peer's identity-bound TLS certificate, once fetched and verified.
    certificate: bytes | None = None

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "address": self.address, "public_key": self.key.text,
                "key_id": self.key.key_id, "certificate": self.certificate is not None}


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise TrustStoreError(
            f"peer name {name[:80]!r} must be 1-64 of letters, digits, '.', '_', '-'")
    return name


def check_address(address: str, *, any_port: bool = False) -> str:
    """``HOST:PORT`` (IPv6 hosts in brackets), port 1..65535 (0 too with ``any_port``)."""
    host, sep, port = address.strip().rpartition(":")
    lowest = 0 if any_port else 1
    if not sep or not _HOST.fullmatch(host) or not port.isascii() or not port.isdigit() \
            or not lowest <= int(port) < 65536:
        raise TrustStoreError(f"address {address[:80]!r} must be HOST:PORT")
    return f"{host}:{int(port)}"


class TrustStore:
    """Trusted peers by name and by key id."""

    def __init__(self, peers: list[Peer] | None = None) -> None:
        self._by_name: dict[str, Peer] = {}
        self._by_key_id: dict[str, Peer] = {}
        for peer in peers or []:
            self._insert(peer)

    def _insert(self, peer: Peer) -> None:
        if peer.name in self._by_name:
            raise TrustStoreError(f"peer {peer.name!r} already exists")
        other = self._by_key_id.get(peer.key.key_id)
        if other is not None:
            raise TrustStoreError(f"key {peer.key.key_id} already belongs to peer {other.name!r}")
        self._by_name[peer.name] = peer
        self._by_key_id[peer.key.key_id] = peer

    def __iter__(self) -> Iterator[Peer]:
        return iter(sorted(self._by_name.values(), key=lambda p: p.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def with_certificates(self) -> list[Peer]:
        """Peers whose certificate is known (only they can connect to this node)."""
        return [peer for peer in self if peer.certificate is not None]

    def without_certificates(self) -> list[Peer]:
        """Peers whose certificate is not known yet (they cannot connect)."""
        return [peer for peer in self if peer.certificate is None]

    def needing_certificates(self) -> list[Peer]:
        """Peers to fetch a certificate from: none known yet, or a version 1 one that the
        peer replaces with version 2 when it upgrades (and this node's server, pinning
        the old bytes, would refuse it until then)."""
        return [peer for peer in self
                if peer.certificate is None or is_legacy_certificate(peer.certificate)]

    def by_key_id(self, key_id: str) -> Peer | None:
        return self._by_key_id.get(key_id)

    def by_name(self, name: str) -> Peer | None:
        return self._by_name.get(name)

    def add(self, name: str, address: str, public_key: str,
            certificate: bytes | None = None) -> Peer:
        """Trust a peer; ``certificate`` (PEM) must be bound to ``public_key``."""
        try:
            key = PeerKey(parse_public_key(public_key))
        except KeyFileError as exc:
            raise TrustStoreError(str(exc)) from None
        peer = Peer(check_name(name), check_address(address), key,
                    None if certificate is None else _checked_certificate(certificate, key))
        self._insert(peer)
        return peer

    def set_certificate(self, name: str, certificate: bytes) -> Peer:
        """Attach a peer's (verified) certificate, replacing any earlier one."""
        old = self._by_name.get(name)
        if old is None:
            raise TrustStoreError(f"no peer named {name[:80]!r}")
        peer = Peer(old.name, old.address, old.key, _checked_certificate(certificate, old.key))
        self._by_name[name] = self._by_key_id[peer.key.key_id] = peer
        return peer

    def remove(self, name: str) -> Peer:
        peer = self._by_name.pop(name, None)
        if peer is None:
            raise TrustStoreError(f"no peer named {name[:80]!r}")
        del self._by_key_id[peer.key.key_id]
        return peer

    @classmethod
    def load(cls, path: Path) -> TrustStore:
        """Read the store; a missing file is an empty store; one others may write is refused."""
        try:
            refuse_writable_by_others(path, "trust store")
        except KeyFileError as exc:
            raise TrustStoreError(str(exc)) from None
        try:
            raw: Any = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise TrustStoreError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TrustStoreError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("peers"), list):
            raise TrustStoreError(f"{path}: expected {{\"peers\": [...]}}")
        store = cls()
        for entry in raw["peers"]:
            if not isinstance(entry, dict) or not all(
                    isinstance(entry.get(k), str) for k in ("name", "address", "public_key")):
                raise TrustStoreError(f"{path}: peer entries need name, address, public_key")
            certificate = entry.get("certificate")
            if certificate is not None and not isinstance(certificate, str):
                raise TrustStoreError(f"{path}: a peer's certificate must be PEM text")
            try:
                store.add(entry["name"], entry["address"], entry["public_key"],
                          None if certificate is None else certificate.encode("ascii", "replace"))
            except TrustStoreError as exc:
                raise TrustStoreError(f"{path}: {exc}") from None
        return store

    def save(self, path: Path) -> None:
        """Atomically replace the file (mode 0600); on failure the old file stays as it was."""
        body = json.dumps({"format": _FORMAT, "peers": [
            {"name": p.name, "address": p.address, "public_key": p.key.text,
             **({} if p.certificate is None else {"certificate": p.certificate.decode()})}
            for p in self
        ]}, indent=2) + "\n"
        try:
            fd, name = tempfile.mkstemp(prefix=".peers-", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise TrustStoreError(f"cannot save {path}: {exc.strerror or exc}") from None
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise TrustStoreError(f"cannot save {path}: {exc.strerror or exc};"
                                  " nothing was changed") from None


def _checked_certificate(pem: bytes, key: PeerKey) -> bytes:
    """The certificate PEM if it is a certificate bound to ``key``, else `TrustStoreError`."""
    try:
        return verify_binding(certificate_der(pem), key)
    except PinMismatch as exc:
        raise TrustStoreError(f"certificate of key {key.key_id}: {exc}") from None
