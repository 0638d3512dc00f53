"""Process-wide settings of a training process: torch threads, and freed memory kept for reuse.

Large tensors made afresh every training step cost page faults.

At 25M ratings a training step allocates and frees tensors of 40-70 MB (gathered embedding
rows, dense gradients). glibc's malloc serves anything over 32 MB with its own ``mmap`` and
returns it with ``munmap`` on free, so every step the kernel hands out and zeroes those pages
again. docs/scaling.md has the measured effect.

:func:`keep_freed_memory` asks glibc to serve every allocation from its heap and not to hand
freed memory back to the system, so the next step reuses the same pages. The process's resident
memory then stays near its peak instead of falling between steps. It changes the whole process,
so only entry points call it (:func:`prepare_training_process`); a no-op where the C library is
not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import torch

from movierec.config import TrainerConfig

# mallopt(3) parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4

_TRIM_THRESHOLD = 2**31 - 1  # the largest the int parameter takes: freed heap memory is kept
_TOP_PAD = 256 << 20         # grow the heap in 256 MB steps

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_freed_memory() -> bool:
    """Serve every allocation from malloc's heap and keep freed memory in it (glibc).

    Returns whether the settings were applied: False when the C library is not glibc.
    """
    if not GLIBC:
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    applied = [libc.mallopt(M_MMAP_MAX, 0), libc.mallopt(M_TRIM_THRESHOLD, _TRIM_THRESHOLD),
               libc.mallopt(M_TOP_PAD, _TOP_PAD)]
    return all(ok == 1 for ok in applied)


def prepare_training_process(trainer: TrainerConfig) -> None:
    """Thread count and allocator of a process about to train (the stage's, or a benchmark's)."""
    torch.set_num_threads(trainer.num_threads)
    if trainer.reuse_freed_memory:
        keep_freed_memory()
