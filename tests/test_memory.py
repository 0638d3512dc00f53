"""keep_freed_memory: a freed large tensor's memory stays with the process for reuse.

Each case runs in its own Python process (the setting is process-wide): allocate 256 MB, free
it, and read the resident size. By default glibc returns it at once; once kept, it stays.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.memory import GLIBC

pytestmark = pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")

CHILD = """
import os, sys
from pipeline.memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
import numpy as np
page = os.sysconf("SC_PAGE_SIZE")
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page / 2**20
before = rss_mb()
block = np.ones(256 * 2**20, dtype=np.uint8)  # touched: resident
held = rss_mb()
del block
print(applied, round(held - before), round(rss_mb() - before))
"""


def _freed_and_kept_mb(mode: str) -> tuple[str, int, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    applied, held, kept = out.stdout.split()
    return applied, int(held), int(kept)


def test_by_default_a_freed_large_block_goes_back_to_the_system():
    applied, held, kept = _freed_and_kept_mb("default")
    assert held >= 250 and kept < 20


def test_kept_memory_stays_resident_for_the_next_allocation():
    applied, held, kept = _freed_and_kept_mb("keep")
    assert applied == "True"
    assert held >= 250 and kept >= 250
