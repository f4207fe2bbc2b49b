"""`hinge-kiosk bench core`: the per-frame cost of the scoring core.

Smoothing + metrics + reps + coach (`HingeEngine.step`) over the synthetic performer's frames:
median and 99th-percentile time per frame, and memory allocated per frame in steady state.

Memory: tracemalloc's traced memory that stays allocated, read at equivalent moments (the same
point of the performer's repeating cycle of reps, after a full garbage collection, which also
empties CPython's free lists of recycled small objects). The first window settles one-time state
(a few kilobytes of caches and the working values); the growth over the next, equally long window,
divided by its frames, is the figure: 0 means nothing grows, however long the kiosk runs.
Per-frame Python temporaries (floats) are freed within the frame and do not count; no numpy
array is allocated per frame. Timing and memory are separate passes: tracemalloc slows every
allocation it watches.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc

import numpy as np

from kiosk.argtypes import whole
from kiosk.drills import DRILLS
from kiosk.engine import HingeEngine
from kiosk.performer import Performer, RepSpec, Scenario
from kiosk.reps import FAULTS

# One cycle of the benchmark's performer: clean reps and every fault, each rep 3.2 s (96 frames at
# 30 fps; the hyperextension rep's lean back adds 24).
CYCLE = (None, None, *FAULTS, None)
CYCLE_FRAMES = 96 * len(CYCLE) + 24
FPS = 30.0


def bench_scenario(frames: int, seed: int = 7) -> Scenario:
    """Enough cycles of reps to fill `frames` at 30 fps after 1.5 s of standing."""
    cycles = frames // CYCLE_FRAMES + 1
    one = tuple(RepSpec(fault=fault, down_s=1.0, bottom_s=0.3, up_s=0.9, rest_s=1.0) for fault in CYCLE)
    reps = one * cycles
    return Scenario(reps=reps, fps=FPS, stand_s=1.5, noise_px=2.5, dropout=0.03, seed=seed)


def measure(frames: int, drill: str = "hinge") -> dict:
    # Standing first, then whole cycles: warm-up, then the measured stretch.
    first = round(1.5 * FPS)
    warm, measured = 2 * CYCLE_FRAMES, 4 * CYCLE_FRAMES
    perf = Performer(bench_scenario(max(frames, first + warm + 2 * measured))).perform()
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
    start = first + warm
    for i in range(start):
        engine.step(kps[i], ts[i])
    tracemalloc.start()
    marks = []
    for window in range(3):
        if window:
            for i in range(start + (window - 1) * measured, start + window * measured):
                engine.step(kps[i], ts[i])
        gc.collect()
        marks.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    before, after = marks[1], marks[2]
    return {
        "frames": int(n),
        "median_us": round(float(np.median(times)) / 1000.0, 2),
        "p99_us": round(float(np.percentile(times, 99)) / 1000.0, 2),
        "alloc_bytes_per_frame": round(max(0, after - before) / measured, 3),
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=whole(1), default=12000, help="frames to score (default: %(default)s)")
    p.add_argument(
        "--drill", choices=list(DRILLS), default="hinge", help="drill the engine scores (default: hinge)"
    )
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
