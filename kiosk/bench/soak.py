"""`hinge-kiosk bench soak VIDEO`: memory over a long run, the way an unattended kiosk lives.

The kiosk runs as `bench kiosk` builds it (pipeline threads, engine, flow, history writer into a
temporary folder with each rep's still, screens on SDL's dummy display at 1920x1080), with the video
looping at its own frame rate as a camera would deliver it, for `--minutes`. Every `--every` seconds
it reads its own resident memory, threads and open files from /proc (Linux, as on the Pi):

    minutes             how long the kiosk ran
    frames              frames processed
    samples             readings taken
    rss_mb_first        resident memory at the first reading (after `--every` seconds)
    rss_mb_last         ... at the last
    rss_mb_max          ... the highest
    growth_mb_per_hour  least-squares slope of the second half of the readings (the first half is
                        warm-up: caches and sample buffers filling); null with under 3 readings there
    threads_max         threads at most (a thread started per event would show here)
    fds_max             open files at most (a source reopened without closing would show here)

A leak shows as a steady slope over the second half; allocator noise and screens changing move the
readings by a few MB either way. Run it for an hour or more to tell the two apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.argtypes import number, window_size
from kiosk.bench.common import add_video_arguments, kiosk_app, probe_video, video_path
from kiosk.errors import InputError

PROC = Path("/proc/self")


@dataclass
class Readings:
    """What the sampler thread saw: (seconds since start, RSS MB, threads, open files) per reading."""

    rows: list[tuple[float, float, int, int]] = field(default_factory=list)

    def take(self, t: float) -> None:
        status = (PROC / "status").read_text()
        rss_kb = int(status.split("VmRSS:")[1].split()[0])
        threads = int(status.split("Threads:")[1].split()[0])
        fds = len(os.listdir(PROC / "fd"))
        self.rows.append((t, rss_kb / 1024.0, threads, fds))


def growth_per_hour(rows: list[tuple[float, float, int, int]]) -> float | None:
    """Slope of RSS over time in MB per hour, fitted to the second half of the readings."""
    late = rows[len(rows) // 2 :]
    if len(late) < 3:
        return None
    n = len(late)
    mean_t = sum(r[0] for r in late) / n
    mean_m = sum(r[1] for r in late) / n
    var = sum((r[0] - mean_t) ** 2 for r in late)
    if var <= 0:
        return None
    cov = sum((r[0] - mean_t) * (r[1] - mean_m) for r in late)
    return cov / var * 3600.0


def measure(
    video: Path,
    *,
    minutes: float,
    every_s: float,
    size: tuple[int, int],
    runtime: str,
    threads: int,
    drill: str | None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run the kiosk on `video`, looped in real time, for `minutes`; the JSON document."""
    if not (PROC / "status").is_file():
        raise InputError("bench soak reads its memory from /proc: it runs on Linux only")
    from kiosk.app import CaptureTap
    from kiosk.backends import open_backend
    from kiosk.models import find_model
    from kiosk.sources import VideoFileSource

    probe_video(video)  # the looping camera below would reopen a video with no frames for --minutes
    backend = open_backend(find_model(), runtime, threads)
    tap = CaptureTap()

    def camera() -> Any:
        return tap.wrap(VideoFileSource(video, realtime=True, loop=True, model_input=backend.input_size))

    readings = Readings()
    done = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not done.wait(every_s):
            readings.take(time.monotonic() - start)
            if progress:
                t, rss, n_threads, fds = readings.rows[-1]
                line = f"{t / 60:6.1f} min  RSS {rss:7.1f} MB  threads {n_threads}  files {fds}"
                print(line, file=sys.stderr)

    sampler = threading.Thread(target=sample, name="soak-sampler", daemon=True)
    # Stills on: the heaviest history a site can opt into (an encoder that kept each one showed here).
    with kiosk_app(
        video, backend, tap, camera, size=size, drill=drill, save_images=True, seconds=60.0 * minutes
    ) as app:
        sampler.start()
        try:
            status = app.run()
            ran_s = time.monotonic() - start
        finally:
            done.set()
            sampler.join()
        frames = app.pipeline.stats().processed
    rows = readings.rows
    if not rows and status == 0 and ran_s < 60.0 * minutes:  # a signal (Ctrl-C) ended the run early
        raise InputError(
            f"bench soak: interrupted after {ran_s:.0f} s, before the first reading; nothing measured"
        )
    if not rows:
        raise InputError(f"bench soak: no reading in {minutes:g} min; take them more often (--every)")
    growth = growth_per_hour(rows)
    return {
        "minutes": round(ran_s / 60.0, 2),
        "frames": int(frames),
        "samples": len(rows),
        "rss_mb_first": round(rows[0][1], 1),
        "rss_mb_last": round(rows[-1][1], 1),
        "rss_mb_max": round(max(r[1] for r in rows), 1),
        "growth_mb_per_hour": None if growth is None else round(growth, 2),
        "threads_max": max(r[2] for r in rows),
        "fds_max": max(r[3] for r in rows),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_video_arguments(parser, frames=False)
    minutes, every = number(0.01, 10080.0), number(0.1, 3600.0)  # up to a week; up to an hour
    parser.add_argument("--minutes", type=minutes, default=60.0, help="how long to run (default: 60)")
    parser.add_argument(
        "--every", type=every, default=60.0, metavar="S", help="seconds between readings (default: 60)"
    )
    parser.add_argument(
        "--size", type=window_size, default=(1920, 1080), metavar="WxH", help="display size (1920x1080)"
    )


def run(args: argparse.Namespace) -> int:
    doc = measure(
        video_path(args.video),
        minutes=args.minutes,
        every_s=args.every,
        size=args.size,
        runtime=args.runtime,
        threads=args.threads,
        drill=args.drill,
        progress=not args.json,
    )
    if args.json:
        print(json.dumps(doc))
        return 0
    growth = doc["growth_mb_per_hour"]
    print(f"{args.video}: {doc['frames']} frames in {doc['minutes']} min, {doc['samples']} readings")
    first, last, most = doc["rss_mb_first"], doc["rss_mb_last"], doc["rss_mb_max"]
    print(f"RSS      first {first} MB, last {last} MB, max {most} MB")
    print(f"growth   {'-' if growth is None else f'{growth} MB/h'} over the second half of the readings")
    print(f"threads  at most {doc['threads_max']}; open files at most {doc['fds_max']}")
    return 0
