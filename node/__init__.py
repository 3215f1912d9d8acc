"""One operator's node: ingest → store → profile → cluster, plus its CLI and config.

`node` never imports `federation`, `grpc` or generated protobuf code; the
federation reads the node only through the shareable aggregates it exposes.
"""

__version__ = "0.1.0"
