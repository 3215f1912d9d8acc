from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

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
    __slots__ = ("schema_version", "name", "key_id", "min_schema_version", "max_schema_version")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    name: str
    key_id: str
    min_schema_version: int
    max_schema_version: int
    def __init__(self, schema_version: _Optional[int] = ..., name: _Optional[str] = ..., key_id: _Optional[str] = ..., min_schema_version: _Optional[int] = ..., max_schema_version: _Optional[int] = ...) -> None: ...

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
