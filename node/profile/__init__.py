"""Local profiling: turn stored events into per-observation signals.

One module per mechanism. The rule modules (`smtp`, `fingerprints`,
`rotation`, `ipv6`, `commands`, `infrastructure`, `simhash`, `transcripts`,
`enrichment`) are pure functions without SQL; `profiler` turns new events into
store statements and `views` reads the profile back. Nothing here is imported
by `node.store`, so the store can import from the ingest layer only.
"""
