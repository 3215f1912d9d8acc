"""The OPRF core's libsodium: a clear error at import when it cannot be used, and nothing left
behind when it can (rbcl, used before, wrote a 2.8 MB copy of it to the temp directory at
every import and never removed it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

IMPORT = """
import sys
try:
    import federation.blind.oprf
except ImportError as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
"""


def import_oprf(prelude: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Import the module in a fresh interpreter after ``prelude``, its temp directory ``tmp``."""
    return subprocess.run([sys.executable, "-c", prelude + IMPORT], cwd=REPO,
                          env={**os.environ, "TMPDIR": str(tmp)}, text=True,
                          capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("prelude", [
    "import ctypes.util; ctypes.util.find_library = lambda name: None",
    "import ctypes.util; ctypes.util.find_library = lambda name: 'libsodium.so.0-missing'",
    "import pysodium; pysodium.sodium_minor, pysodium.sodium_patch = 0, 17",
], ids=["not installed", "will not load", "too old"])
def test_without_a_usable_libsodium_the_import_says_what_to_install(prelude: str,
                                                                    tmp_path: Path) -> None:
    proc = import_oprf(prelude, tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith("LibsodiumUnavailableError libsodium ")
    assert "apt install libsodium23" in proc.stdout


def test_the_import_writes_nothing_to_the_temp_directory(tmp_path: Path) -> None:
    proc = import_oprf("", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(tmp_path.iterdir()) == []
