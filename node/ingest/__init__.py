"""Sensor log ingestion: bounded line reading, per-line format detection, parsing.

Every physical line becomes either one normalised `Event` or one rejection with
a reason; nothing in here touches the store.
"""

from node.event import Event, LineRejected
from node.ingest.detect import parse_line

__all__ = ["Event", "LineRejected", "parse_line"]
