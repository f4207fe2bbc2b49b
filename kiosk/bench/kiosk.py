"""`hinge-kiosk bench kiosk VIDEO`: the whole kiosk loop against the model's own speed.

The kiosk runs exactly as `hinge-kiosk run` does (pipeline threads, engine, flow, history writer,
screens) on SDL's dummy display at 1920x1080 (`--size`), with the video as its camera, read as fast
as inference takes frames. Around it, in the same process and on the same backend (same runtime and
threads), a bare loop of `backend.infer` over model inputs made the same way gives the limit.

    frames          frames processed (each one judged and fed to the flow)
    fps             frames processed per second, first to last
    invoke_fps      bare `infer` calls per second, same threads, inputs made the same way
                    (timed half before and half after the kiosk; see `kiosk.bench.common`)
    ratio           fps / invoke_fps                       (target >= 0.85)
    latency_ms_*    a frame's capture to the return of `present()` showing it
                    (target p95 <= two inference periods plus one display frame)
    render_ms_p50   drawing and presenting one screen     (target <= 8 ms)
    dropped         frames replaced in a latest-frame slot before they were used
    rss_mb          peak resident memory                  (target <= 250 MB)

`--realtime` feeds the video at its own frame rate instead, the way a camera delivers frames (a
frame inference is not ready for is dropped, as from a camera): the kiosk's operating point, where
latency is what a user feels. The rate is then bounded by the video's, so `ratio` is `fps` over
the lower of `invoke_fps` and the video's frame rate.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
from pathlib import Path
from typing import Any

from kiosk.argtypes import window_size
from kiosk.bench.common import (
    add_video_arguments,
    bracketed,
    kiosk_app,
    probe_video,
    reference_inputs,
    video_once,
    video_path,
)


def rss_mb() -> float:
    """Peak resident memory of this process, MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _ms(value: float) -> float | None:
    """A figure for the JSON document: rounded, or null when nothing was measured."""
    return round(value, 2) if math.isfinite(value) else None


def measure(
    video: Path,
    *,
    size: tuple[int, int],
    runtime: str,
    threads: int,
    frames: int,
    drill: str | None,
    realtime: bool = False,
) -> dict[str, Any]:
    """Run the kiosk over `video`, then the bare loop; the JSON document plus a `context` entry."""
    from kiosk.app import CaptureTap
    from kiosk.backends import open_backend
    from kiosk.errors import InputError
    from kiosk.models import find_model

    probe = probe_video(video)
    backend = open_backend(find_model(), runtime, threads)
    tap = CaptureTap()
    opener = video_once(video, frames, backend.input_size, realtime=realtime, wrap=tap.wrap)
    with kiosk_app(video, backend, tap, opener, size=size, drill=drill, until_end=True) as app:
        renderer = "accelerated" if app.display.accelerated else "software"
        shown_on = f"{app.display.driver} {size[0]}x{size[1]} ({renderer} renderer)"
        opener.on_failure = app.stop
        count = min(frames if frames > 0 else probe.frame_count, 2000)
        video_fps = probe.fps
        measured = bracketed(backend, reference_inputs(video, backend), count, app.run)
        invoke_fps = measured.invoke_fps
        stats = app.pipeline.stats()
        loop = app.stats
    if opener.failed:
        raise InputError(f"{video}: the video failed partway (damaged or truncated?); nothing measured")
    n = stats.processed
    if n < 2 or loop.frames < 2:
        raise InputError(f"{video}: needs at least 2 decodable frames to measure a rate")
    fps = (loop.frames - 1) / max(1e-9, loop.last_frame_at - loop.first_frame_at)

    limit = min(invoke_fps, video_fps) if realtime else invoke_fps
    doc = {
        "frames": int(n),
        "fps": round(fps, 2),
        "invoke_fps": round(invoke_fps, 2),
        "ratio": round(fps / limit, 3),
        "latency_ms_p50": _ms(loop.percentile_ms(loop.latency_s, 50)),
        "latency_ms_p95": _ms(loop.percentile_ms(loop.latency_s, 95)),
        "render_ms_p50": _ms(loop.percentile_ms(loop.render_s, 50)),
        "dropped": int(stats.dropped),
        "rss_mb": round(rss_mb(), 1),
    }
    doc["context"] = {
        "video": str(video),
        "display": shown_on,
        "runtime": backend.runtime,
        "threads": getattr(backend, "threads", threads),
        "frames_shown": loop.shown,
        "paced": f"at the video's {video_fps:g} fps" if realtime else "as fast as inference takes frames",
        "cores_busy": round(measured.cores_busy, 2),
        "stage_ms": {k: round(v, 2) for k, v in stats.stage_ms.items()},
        "target_latency_ms": round(2000.0 / invoke_fps + 1000.0 / app.cfg.display.max_fps, 1),
    }
    return doc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_video_arguments(parser)
    parser.add_argument(
        "--size", type=window_size, default=(1920, 1080), metavar="WxH", help="display size (1920x1080)"
    )
    parser.add_argument(
        "--realtime", action="store_true", help="feed the video at its own frame rate, like a camera"
    )


def run(args: argparse.Namespace) -> int:
    video = video_path(args.video)
    doc = measure(
        video,
        size=args.size,
        runtime=args.runtime,
        threads=args.threads,
        frames=args.frames,
        drill=args.drill,
        realtime=args.realtime,
    )
    context = doc.pop("context")
    if args.json:
        print(json.dumps(doc))
        return 0
    print(f"{context['video']}: {doc['frames']} frames on {context['display']}")
    print(f"runtime {context['runtime']}, {context['threads']} thread(s); stages {context['stage_ms']}")
    print(f"bare invoke   {doc['invoke_fps']:8.1f} fps")
    print(
        f"kiosk loop    {doc['fps']:8.1f} fps   ratio {doc['ratio']:.2f} (target >= 0.85), {context['paced']}"
    )
    print(
        f"latency       p50 {doc['latency_ms_p50']} ms, p95 {doc['latency_ms_p95']} ms "
        f"(target p95 <= {context['target_latency_ms']} ms)"
    )
    print(f"render        p50 {doc['render_ms_p50']} ms (target <= 8 ms), {context['frames_shown']} screens")
    print(f"dropped       {doc['dropped']}; peak RSS {doc['rss_mb']} MB (target <= 250 MB)")
    print(f"CPU           {context['cores_busy']} cores busy on average while the kiosk ran")
    return 0
