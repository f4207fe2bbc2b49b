"""`hinge-kiosk bench core`: the per-frame cost of the scoring core.

Smoothing + metrics + reps + coach (`HingeEngine.step`) over the synthetic performer's frames:
median and 99th-percentile time per frame, and memory allocated per frame in steady state
(tracemalloc: traced memory that stays allocated, per frame, after a warm-up). Timing and the
allocation count are separate passes: tracemalloc slows every allocation it watches.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numpy as np

from kiosk.engine import HingeEngine
from kiosk.performer import Performer, RepSpec, Scenario
from kiosk.reps import FAULTS

# Enough frames (several reps, every fault) that one-time caches (numpy's reductions, the
# allocator's free lists) are warm before counting what stays allocated.
WARMUP_FRAMES = 3000


def bench_scenario(frames: int, seed: int = 7) -> Scenario:
    """Enough varied reps (every fault, clean reps, tempo changes) to fill `frames` at 30 fps."""
    cycle = [None, None, *FAULTS, None]
    reps = []
    n_reps = max(1, int(frames / 30.0 / 3.2) + 1)
    for i in range(n_reps):
        reps.append(RepSpec(fault=cycle[i % len(cycle)], down_s=1.0 + 0.1 * (i % 4), up_s=0.9))
    return Scenario(reps=tuple(reps), walk_in_s=2.0, walk_out_s=2.0, noise_px=2.5, dropout=0.03, seed=seed)


def measure(frames: int, drill: str = "hinge") -> dict:
    perf = Performer(bench_scenario(frames)).perform()
    kps = perf.track.keypoints
    ts = perf.track.t
    n = min(frames, len(ts))
    engine = HingeEngine(drill, frame_size=perf.track.frame_size)

    times = np.empty(n, np.float64)
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        engine.step(kps[i], ts[i])
        times[i] = clock() - t0

    engine = HingeEngine(drill, frame_size=perf.track.frame_size)
    for i in range(min(WARMUP_FRAMES, n)):
        engine.step(kps[i], ts[i])
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    measured = 0
    for i in range(min(WARMUP_FRAMES, n), n):
        engine.step(kps[i], ts[i])
        measured += 1
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "frames": int(n),
        "median_us": round(float(np.median(times)) / 1000.0, 2),
        "p99_us": round(float(np.percentile(times, 99)) / 1000.0, 2),
        "alloc_bytes_per_frame": round(max(0, after - before) / max(1, measured), 3),
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=int, default=12000, help="frames to score (default: %(default)s)")
    p.add_argument("--drill", default="hinge")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    doc = measure(max(1000, args.frames), args.drill)
    if args.json:
        print(json.dumps(doc))
    else:
        print(
            f"scoring core: {doc['frames']} frames, median {doc['median_us']} us, "
            f"p99 {doc['p99_us']} us, {doc['alloc_bytes_per_frame']} bytes kept per frame"
        )
    return 0
