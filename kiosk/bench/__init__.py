"""`hinge-kiosk bench core | pipeline | kiosk | soak`: performance measurements, not tests.

Each sub-benchmark lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`.
Modules are imported when the parser is built, so they keep their heavy imports (runtimes, PyAV,
pygame) inside `run`.
"""

from __future__ import annotations

import importlib
from typing import Any

# Sub-benchmark name -> (module, one-line help).
BENCHMARKS: dict[str, tuple[str, str]] = {
    "core": ("kiosk.bench.core", "per-frame cost of the scoring core (smoothing, metrics, reps, coach)"),
    "pipeline": ("kiosk.bench.pipeline", "decode -> preprocess -> infer -> score throughput vs bare invoke"),
    "kiosk": ("kiosk.bench.kiosk", "the whole kiosk loop including the display"),
    "soak": ("kiosk.bench.soak", "memory, threads and open files of the kiosk over a long run"),
}


def register(subparsers: Any) -> None:
    """Add `bench` and its sub-benchmarks."""
    parser = subparsers.add_parser("bench", help="measure performance (core, pipeline, kiosk, soak)")
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    for name, (module_name, help_text) in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
