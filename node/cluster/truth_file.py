"""Reading a ground-truth file (``truth.json`` from `decnet-fed simulate`) to score against.

The file is input like any other: anything but the documented shape is a
`TruthFileError` naming what is wrong, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from node.errors import CommandError

#: The truth file versions this build reads.
TRUTH_VERSIONS = frozenset({1})
LEVELS = ("identity", "campaign")


class TruthFileError(CommandError):
    """A truth file that cannot be used."""


#: Largest truth file read (a million observations take about 80 MB).
MAX_TRUTH_BYTES = 256 * 1024 * 1024


def load_truth(path: Path) -> dict[str, dict[str, str]]:
    """Level (``identity``, ``campaign``) → {observation address: its true label}."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_TRUTH_BYTES + 1)
    except OSError as exc:
        raise TruthFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_TRUTH_BYTES:
        raise TruthFileError(f"{path} is larger than {MAX_TRUTH_BYTES // 2**20} MiB")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise TruthFileError(f"{path} is not JSON ({str(exc)[:120]})") from None
    if not isinstance(document, dict) or document.get("schema_version") not in TRUTH_VERSIONS:
        raise TruthFileError(f"{path}: not a truth file of version"
                             f" {', '.join(map(str, sorted(TRUTH_VERSIONS)))}")
    observations = document.get("observations")
    if not isinstance(observations, dict) or not observations:
        raise TruthFileError(f"{path}: observations must be a non-empty object")
    levels: dict[str, dict[str, str]] = {level: {} for level in LEVELS}
    for ip, labels in observations.items():
        if not isinstance(labels, dict) or not all(
                isinstance(labels.get(level), str) for level in LEVELS):
            raise TruthFileError(f"{path}: observations[{ip!r}] needs string"
                                 " 'identity' and 'campaign'")
        for level in LEVELS:
            levels[level][ip] = labels[level]
    return levels
