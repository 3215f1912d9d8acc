"""Asking peers: sign the question, send it to each trusted peer concurrently, verify answers.

Each peer gets its own deadline; a peer that is down, slow, refuses, or
answers with anything but a correctly signed answer to *this* request ends up
as a row with a status and a reason, and never disturbs the other peers' rows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from federation.config import MAX_SCHEMA_VERSION, MIN_SCHEMA_VERSION
from federation.envelope import (
    ANSWER_METADATA,
    REQUEST_METADATA,
    decode_envelope,
    encode_envelope,
    sign_request,
    verify_answer,
)
from federation.errors import (
    BadAnswer,
    GarbledEnvelope,
    PeerRefused,
    PeerUnreachable,
    PinMismatch,
)
from federation.keys import NodeKey
from federation.service import Clock
from federation.tls import channel_credentials, fetch_certificate, server_name, verify_binding
from federation.trust import Peer
from federation.wire import Answer, Question, decode_answer, encode_question, method_of

OK = "ok"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
REFUSED = "refused"
BAD_ANSWER = "bad_answer"
TLS_MISMATCH = "tls_mismatch"
#: Largest answer accepted: a gossip response carries up to 512 KiB of records.
_MAX_ANSWER_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class PeerAnswer:
    """One peer's row: ``answer`` is set only when ``status`` is ``ok``; ``mode`` says how
    the question was asked ("open", or "blind": `federation.blind.asker`)."""

    peer: str
    address: str
    status: str
    answer: Answer | None
    error: str | None
    latency_s: float
    mode: str = "open"


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


async def peer_certificate(peer: Peer) -> bytes:
    """Fetch the certificate ``peer.address`` presents; PEM if bound to ``peer.key``.

    `PinMismatch` when it is not (another node, or a man in the middle),
    `PeerUnreachable` when nothing answers.
    """
    host, port = split_address(peer.address)
    return verify_binding(await fetch_certificate(host, port), peer.key)


class FederationClient:
    """Signs with this node's key; one channel per peer, reused across questions."""

    def __init__(self, key: NodeKey, *, plaintext: bool, deadline_s: float,
                 clock: Clock = time.time, schema_version: int = MAX_SCHEMA_VERSION) -> None:
        self._key = key
        self._plaintext = plaintext
        self._deadline_s = deadline_s
        self._clock = clock
        self._schema_version = schema_version
        self._channels: dict[str, grpc.aio.Channel] = {}

    async def __aenter__(self) -> FederationClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()

    async def ask_all(self, peers: Iterable[Peer], question: Question) -> list[PeerAnswer]:
        """Ask every peer at once; rows in the order of ``peers``."""
        return list(await asyncio.gather(*(self.ask(peer, question) for peer in peers)))

    async def ask(self, peer: Peer, question: Question) -> PeerAnswer:
        """Ask one peer within its deadline; failures become the row's status."""
        started = time.perf_counter()
        status, answer, error = OK, None, None
        try:
            channel = self._channels.get(peer.name)
            if channel is None:  # TLS probe + channel set-up, inside the same deadline
                async with asyncio.timeout(self._deadline_s):
                    channel = await self._open_channel(peer)
            remaining = self._deadline_s - (time.perf_counter() - started)
            answer = await self._ask(channel, peer, question, max(0.001, remaining))
        except TimeoutError:
            status, error = TIMEOUT, f"no answer within {self._deadline_s:g} s"
        except PinMismatch as exc:
            status, error = TLS_MISMATCH, str(exc)
        except BadAnswer as exc:
            status, error = BAD_ANSWER, str(exc)
        except PeerUnreachable as exc:
            status, error = UNREACHABLE, str(exc)
        except PeerRefused as exc:
            status, error = _status_of(exc.code), str(exc)
        return PeerAnswer(peer.name, peer.address, status, answer, error,
                          time.perf_counter() - started)

    async def _ask(self, channel: grpc.aio.Channel, peer: Peer, question: Question,
                   timeout_s: float) -> Answer:
        """Sign, call, verify the answer's signature and binding, decode."""
        method = method_of(question)
        body = encode_question(question, self._schema_version)
        envelope, digest = sign_request(self._key, method, self._schema_version, body,
                                        now_ms=int(self._clock() * 1000))
        response, trailing = await self._call(
            channel, method, body, ((REQUEST_METADATA, encode_envelope(envelope)),), timeout_s)
        found = [v for k, v in trailing if k == ANSWER_METADATA]
        if len(found) != 1 or not isinstance(found[0], bytes):
            raise BadAnswer("answer carries no signed envelope")
        try:
            answer_envelope = decode_envelope(found[0])
        except GarbledEnvelope as exc:
            raise BadAnswer(f"answer envelope: {exc}") from None
        verify_answer(answer_envelope, peer.key, method, digest, response)
        version, answer = self._decode(method, response)
        if version != answer_envelope.schema_version:
            raise BadAnswer(f"answer schema_version {version} differs from its envelope's")
        return answer

    @staticmethod
    def _decode(method: str, response: bytes) -> tuple[int, Answer]:
        try:
            version, answer = decode_answer(method, response)
        except DecodeError:
            raise BadAnswer("answer is not decodable") from None
        if not MIN_SCHEMA_VERSION <= version <= MAX_SCHEMA_VERSION:
            raise BadAnswer(f"answer schema_version {version} not understood")
        return version, answer

    async def _call(self, channel: grpc.aio.Channel, method: str, body: bytes,
                    metadata: tuple[tuple[str, bytes], ...],
                    timeout_s: float) -> tuple[bytes, tuple[tuple[str, str | bytes], ...]]:
        """One unary call with raw bytes; gRPC errors become `PeerError`s or TimeoutError."""
        multicallable: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = \
            channel.unary_unary(method)
        call = multicallable(body, metadata=metadata, timeout=timeout_s)
        try:
            response = await call
            trailing = await call.trailing_metadata()
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise TimeoutError from None
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise PeerUnreachable(exc.details() or "unavailable") from None
            raise PeerRefused(exc.code(), exc.details() or "") from None
        if not isinstance(response, bytes):
            raise BadAnswer("answer is not bytes")
        return response, tuple(trailing or ())

    async def _open_channel(self, peer: Peer) -> grpc.aio.Channel:
        options = [("grpc.max_receive_message_length", _MAX_ANSWER_BYTES)]
        if self._plaintext:
            channel = grpc.aio.insecure_channel(peer.address, options=options)
        else:
            pem = peer.certificate or await peer_certificate(peer)
            name = server_name(peer.key.key_id)
            channel = grpc.aio.secure_channel(
                peer.address, channel_credentials(pem, self._key),
                options=[*options, ("grpc.ssl_target_name_override", name),
                         ("grpc.default_authority", name)])
        self._channels[peer.name] = channel
        return channel


def _status_of(code: grpc.StatusCode) -> str:
    return REFUSED if code != grpc.StatusCode.DEADLINE_EXCEEDED else TIMEOUT
