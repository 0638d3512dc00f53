"""Thin DVC stage entry points: read the config, call the core, write outputs.

Importing this package (the first thing `python -m pipeline.<stage>` does, before torch or numpy
load) pins the CPU code paths of the numerical libraries, so that a stage computes the same bits
in every process and on every x86-64 CPU with AVX2, whatever it supports beyond that
(docs/workflow.md, "Reproducible to the bit"). The libraries read these variables once, when
they load. A variable already set in the environment is left as it is (some machines set
OPENBLAS_CORETYPE for an OpenBLAS that misdetects their processor); ``MOVIEREC_NUMERICS=native``
sets none of them (each library's own choice: results then differ in the last digits between CPUs).
"""

import os
import platform
import sys

NUMERICS_ENV = "MOVIEREC_NUMERICS"

# Each library picks kernels by the CPU it finds; pinned, every AVX2 CPU (Intel or AMD) runs the same code.
PORTABLE_NUMERICS = {
    "MKL_CBWR": "COMPATIBLE",            # torch's BLAS: MKL's SSE2 branch without rcpps/rsqrtps (same on Intel/AMD)
    "ATEN_CPU_CAPABILITY": "avx2",        # torch's own vectorised kernels: AVX2, not AVX-512
    "ONEDNN_MAX_CPU_ISA": "AVX2",         # oneDNN (not used by these models today; pinned all the same)
    "OPENBLAS_CORETYPE": "Haswell",       # numpy/scipy's OpenBLAS: its AVX2 kernels
    "OPENBLAS_NUM_THREADS": "1",          # ... on one thread (a blocked factorisation splits by thread count)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's own loops: AVX2 (X86_V3) at most
}


NUMERIC_MODULES = ("numpy", "torch", "scipy")


def pin_numerics(environ: "os._Environ[str] | dict[str, str]" = os.environ) -> dict[str, str]:
    """Set each of :data:`PORTABLE_NUMERICS` that `environ` lacks (x86-64 only, unless
    ``MOVIEREC_NUMERICS=native``); returns what was set.

    Nothing is set once a numerical library is loaded (the settings would no longer apply to this
    process, only leak into its children): in a test process or a notebook, importing `pipeline`
    leaves the environment alone."""
    if (environ.get(NUMERICS_ENV, "portable") == "native"
            or platform.machine().lower() not in ("x86_64", "amd64")
            or any(name in sys.modules for name in NUMERIC_MODULES)):
        return {}
    missing = {key: value for key, value in PORTABLE_NUMERICS.items() if key not in environ}
    environ.update(missing)
    return missing


pin_numerics()
