from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_KIND_UNSPECIFIED: _ClassVar[RecordKind]
    RECORD_KIND_IDENTITY: _ClassVar[RecordKind]
    RECORD_KIND_CAMPAIGN: _ClassVar[RecordKind]
    RECORD_KIND_TOMBSTONE: _ClassVar[RecordKind]
    RECORD_KIND_BLIND_KEY: _ClassVar[RecordKind]

class MemberState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATE_UNSPECIFIED: _ClassVar[MemberState]
    MEMBER_STATE_ALIVE: _ClassVar[MemberState]
    MEMBER_STATE_SUSPECT: _ClassVar[MemberState]
    MEMBER_STATE_DEAD: _ClassVar[MemberState]
RECORD_KIND_UNSPECIFIED: RecordKind
RECORD_KIND_IDENTITY: RecordKind
RECORD_KIND_CAMPAIGN: RecordKind
RECORD_KIND_TOMBSTONE: RecordKind
RECORD_KIND_BLIND_KEY: RecordKind
MEMBER_STATE_UNSPECIFIED: MemberState
MEMBER_STATE_ALIVE: MemberState
MEMBER_STATE_SUSPECT: MemberState
MEMBER_STATE_DEAD: MemberState

class Envelope(_message.Message):
    __slots__ = ("key_id", "method", "schema_version", "timestamp_ms", "nonce", "signature")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    method: str
    schema_version: int
    timestamp_ms: int
    nonce: bytes
    signature: bytes
    def __init__(self, key_id: _Optional[str] = ..., method: _Optional[str] = ..., schema_version: _Optional[int] = ..., timestamp_ms: _Optional[int] = ..., nonce: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class GetNodeInfoRequest(_message.Message):
    __slots__ = ("schema_version",)
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    def __init__(self, schema_version: _Optional[int] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("schema_version", "name", "key_id", "min_schema_version", "max_schema_version", "oprf_keys")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    OPRF_KEYS_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    name: str
    key_id: str
    min_schema_version: int
    max_schema_version: int
    oprf_keys: _containers.RepeatedCompositeFieldContainer[OprfKey]
    def __init__(self, schema_version: _Optional[int] = ..., name: _Optional[str] = ..., key_id: _Optional[str] = ..., min_schema_version: _Optional[int] = ..., max_schema_version: _Optional[int] = ..., oprf_keys: _Optional[_Iterable[_Union[OprfKey, _Mapping]]] = ...) -> None: ...

class OprfKey(_message.Message):
    __slots__ = ("epoch", "public_key")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    public_key: bytes
    def __init__(self, epoch: _Optional[int] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class BlindEvaluateRequest(_message.Message):
    __slots__ = ("schema_version", "epoch", "blinded_elements")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BLINDED_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    epoch: int
    blinded_elements: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, schema_version: _Optional[int] = ..., epoch: _Optional[int] = ..., blinded_elements: _Optional[_Iterable[bytes]] = ...) -> None: ...

class BlindEvaluateResponse(_message.Message):
    __slots__ = ("schema_version", "epoch", "evaluated_elements", "proof", "table_version")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    TABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    epoch: int
    evaluated_elements: _containers.RepeatedScalarFieldContainer[bytes]
    proof: bytes
    table_version: int
    def __init__(self, schema_version: _Optional[int] = ..., epoch: _Optional[int] = ..., evaluated_elements: _Optional[_Iterable[bytes]] = ..., proof: _Optional[bytes] = ..., table_version: _Optional[int] = ...) -> None: ...

class BlindTableRequest(_message.Message):
    __slots__ = ("schema_version", "epoch", "have_version", "offset")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    HAVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    epoch: int
    have_version: int
    offset: int
    def __init__(self, schema_version: _Optional[int] = ..., epoch: _Optional[int] = ..., have_version: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class BlindTableResponse(_message.Message):
    __slots__ = ("schema_version", "epoch", "oprf_public_key", "version", "records", "records_sha256", "signature", "unchanged", "offset", "chunk")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    OPRF_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_SHA256_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    epoch: int
    oprf_public_key: bytes
    version: int
    records: int
    records_sha256: bytes
    signature: bytes
    unchanged: bool
    offset: int
    chunk: bytes
    def __init__(self, schema_version: _Optional[int] = ..., epoch: _Optional[int] = ..., oprf_public_key: _Optional[bytes] = ..., version: _Optional[int] = ..., records: _Optional[int] = ..., records_sha256: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., unchanged: _Optional[bool] = ..., offset: _Optional[int] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class SmtpTargetSeenRequest(_message.Message):
    __slots__ = ("schema_version", "domain")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    domain: str
    def __init__(self, schema_version: _Optional[int] = ..., domain: _Optional[str] = ...) -> None: ...

class SmtpTargetSeenResponse(_message.Message):
    __slots__ = ("schema_version", "seen", "count", "first_seen_s", "last_seen_s", "time_granularity_s")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_S_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_S_FIELD_NUMBER: _ClassVar[int]
    TIME_GRANULARITY_S_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    seen: bool
    count: int
    first_seen_s: int
    last_seen_s: int
    time_granularity_s: int
    def __init__(self, schema_version: _Optional[int] = ..., seen: _Optional[bool] = ..., count: _Optional[int] = ..., first_seen_s: _Optional[int] = ..., last_seen_s: _Optional[int] = ..., time_granularity_s: _Optional[int] = ...) -> None: ...

class FingerprintSeenRequest(_message.Message):
    __slots__ = ("schema_version", "kind", "value")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    kind: str
    value: str
    def __init__(self, schema_version: _Optional[int] = ..., kind: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class FingerprintSeenResponse(_message.Message):
    __slots__ = ("schema_version", "seen", "count", "first_seen_s", "last_seen_s", "time_granularity_s", "distinct_attackers")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_S_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_S_FIELD_NUMBER: _ClassVar[int]
    TIME_GRANULARITY_S_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_ATTACKERS_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    seen: bool
    count: int
    first_seen_s: int
    last_seen_s: int
    time_granularity_s: int
    distinct_attackers: int
    def __init__(self, schema_version: _Optional[int] = ..., seen: _Optional[bool] = ..., count: _Optional[int] = ..., first_seen_s: _Optional[int] = ..., last_seen_s: _Optional[int] = ..., time_granularity_s: _Optional[int] = ..., distinct_attackers: _Optional[int] = ...) -> None: ...

class SimhashNearRequest(_message.Message):
    __slots__ = ("schema_version", "kind", "simhash", "max_distance")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIMHASH_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    kind: str
    simhash: int
    max_distance: int
    def __init__(self, schema_version: _Optional[int] = ..., kind: _Optional[str] = ..., simhash: _Optional[int] = ..., max_distance: _Optional[int] = ...) -> None: ...

class SimhashNearResponse(_message.Message):
    __slots__ = ("schema_version", "match", "min_distance", "count_within")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    MIN_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    COUNT_WITHIN_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    match: bool
    min_distance: int
    count_within: int
    def __init__(self, schema_version: _Optional[int] = ..., match: _Optional[bool] = ..., min_distance: _Optional[int] = ..., count_within: _Optional[int] = ...) -> None: ...

class GossipRecord(_message.Message):
    __slots__ = ("body", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class RecordBody(_message.Message):
    __slots__ = ("schema_version", "schema_minor", "origin", "version", "record_id", "kind", "issued_day", "summary")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_MINOR_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ISSUED_DAY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    schema_minor: int
    origin: str
    version: int
    record_id: bytes
    kind: RecordKind
    issued_day: int
    summary: Summary
    def __init__(self, schema_version: _Optional[int] = ..., schema_minor: _Optional[int] = ..., origin: _Optional[str] = ..., version: _Optional[int] = ..., record_id: _Optional[bytes] = ..., kind: _Optional[_Union[RecordKind, str]] = ..., issued_day: _Optional[int] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("fingerprints", "simhashes", "observation_count", "first_seen_day", "last_seen_day")
    FINGERPRINTS_FIELD_NUMBER: _ClassVar[int]
    SIMHASHES_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_DAY_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_DAY_FIELD_NUMBER: _ClassVar[int]
    fingerprints: _containers.RepeatedCompositeFieldContainer[FingerprintList]
    simhashes: _containers.RepeatedCompositeFieldContainer[SimhashList]
    observation_count: int
    first_seen_day: int
    last_seen_day: int
    def __init__(self, fingerprints: _Optional[_Iterable[_Union[FingerprintList, _Mapping]]] = ..., simhashes: _Optional[_Iterable[_Union[SimhashList, _Mapping]]] = ..., observation_count: _Optional[int] = ..., first_seen_day: _Optional[int] = ..., last_seen_day: _Optional[int] = ...) -> None: ...

class FingerprintList(_message.Message):
    __slots__ = ("kind", "algorithm_version", "values")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_VERSION_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    algorithm_version: int
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[str] = ..., algorithm_version: _Optional[int] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class SimhashList(_message.Message):
    __slots__ = ("kind", "algorithm_version", "values")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_VERSION_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    algorithm_version: int
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, kind: _Optional[str] = ..., algorithm_version: _Optional[int] = ..., values: _Optional[_Iterable[int]] = ...) -> None: ...

class DigestEntry(_message.Message):
    __slots__ = ("origin", "version", "collected_through")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    origin: str
    version: int
    collected_through: int
    def __init__(self, origin: _Optional[str] = ..., version: _Optional[int] = ..., collected_through: _Optional[int] = ...) -> None: ...

class DigestChunk(_message.Message):
    __slots__ = ("first", "last", "entries", "refused")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    first: str
    last: str
    entries: _containers.RepeatedCompositeFieldContainer[DigestEntry]
    refused: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, first: _Optional[str] = ..., last: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[DigestEntry, _Mapping]]] = ..., refused: _Optional[_Iterable[str]] = ...) -> None: ...

class OriginDelta(_message.Message):
    __slots__ = ("origin", "from_version", "to_version", "reset", "collected_through", "records")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    origin: str
    from_version: int
    to_version: int
    reset: bool
    collected_through: int
    records: _containers.RepeatedCompositeFieldContainer[GossipRecord]
    def __init__(self, origin: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., reset: _Optional[bool] = ..., collected_through: _Optional[int] = ..., records: _Optional[_Iterable[_Union[GossipRecord, _Mapping]]] = ...) -> None: ...

class GossipRequest(_message.Message):
    __slots__ = ("schema_version", "digest", "deltas")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    digest: DigestChunk
    deltas: _containers.RepeatedCompositeFieldContainer[OriginDelta]
    def __init__(self, schema_version: _Optional[int] = ..., digest: _Optional[_Union[DigestChunk, _Mapping]] = ..., deltas: _Optional[_Iterable[_Union[OriginDelta, _Mapping]]] = ...) -> None: ...

class GossipResponse(_message.Message):
    __slots__ = ("schema_version", "deltas", "digest")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    deltas: _containers.RepeatedCompositeFieldContainer[OriginDelta]
    digest: DigestChunk
    def __init__(self, schema_version: _Optional[int] = ..., deltas: _Optional[_Iterable[_Union[OriginDelta, _Mapping]]] = ..., digest: _Optional[_Union[DigestChunk, _Mapping]] = ...) -> None: ...

class MemberUpdate(_message.Message):
    __slots__ = ("peer", "state", "incarnation", "accuser")
    PEER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    ACCUSER_FIELD_NUMBER: _ClassVar[int]
    peer: str
    state: MemberState
    incarnation: int
    accuser: str
    def __init__(self, peer: _Optional[str] = ..., state: _Optional[_Union[MemberState, str]] = ..., incarnation: _Optional[int] = ..., accuser: _Optional[str] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ("schema_version", "target", "updates")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    target: str
    updates: _containers.RepeatedCompositeFieldContainer[MemberUpdate]
    def __init__(self, schema_version: _Optional[int] = ..., target: _Optional[str] = ..., updates: _Optional[_Iterable[_Union[MemberUpdate, _Mapping]]] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("schema_version", "ack", "updates")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    ack: bool
    updates: _containers.RepeatedCompositeFieldContainer[MemberUpdate]
    def __init__(self, schema_version: _Optional[int] = ..., ack: _Optional[bool] = ..., updates: _Optional[_Iterable[_Union[MemberUpdate, _Mapping]]] = ...) -> None: ...
