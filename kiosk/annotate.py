"""`hinge-kiosk analyze VIDEO --annotate OUT.mp4`: the clip with the kiosk's overlay, for a coach.

The video is decoded again through the same `VideoFileSource` that made the pose track (same
frames, same upright turn, same timestamps), and each frame goes through the engine as in
`analyze` (a first pass, `analyze_track` itself, counts the reps for the "3 / 10" counter and takes
out a quick bell pickup or set-down), so the rep numbers match its table. Each output frame is the
source frame, unmirrored (a review shows the lifter as filmed) and at most `MAX_HEIGHT` tall, with
the skeleton, the dowel line and the virtual wall on it, and a side panel with the drill, the rep
counter, the reps so far and the current cue: the display's own widgets on an offscreen SDL
renderer (the dummy video driver, so it runs headless). The last frame is held a moment with the
final tally. Encoded with libx264 (mpeg4 where it is missing).
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.errors import InputError
from kiosk.metrics import DEFAULT_SETUP, Setup
from kiosk.track import PoseTrack

HOLD_S = 1.5  # the last frame, with the final tally, stays this long
PANEL_FRACTION = 0.55  # side panel width as a fraction of the frame height
# Taller videos are scaled down to this height. A 4K clip with its panel would be over 5000 pixels
# wide, past what H.264's levels allow and what phones' decoders play; 1080 rows show the form and
# the panel's type plainly, and encode several times quicker than a phone's 1080x1920.
MAX_HEIGHT = 1080


def _even(n: float) -> int:
    return max(2, round(n / 2.0) * 2)


def annotate_video(
    video: str | Path,
    track: PoseTrack,
    out: str | Path,
    drill: str,
    *,
    setup: Setup = DEFAULT_SETUP,
) -> Path:
    """Write `out` (an .mp4): `video` with the overlay of `track` judged as `drill`."""
    import av
    import pygame

    from kiosk.analyze import analyze_track
    from kiosk.display import open_display
    from kiosk.display import theme as th
    from kiosk.display import widgets as w
    from kiosk.drills import get_drill
    from kiosk.engine import HingeEngine
    from kiosk.flow import FrameSnapshot, tally
    from kiosk.sources import IMAGE_SUFFIXES, VideoFileSource

    src = Path(video)
    if src.suffix.lower() in IMAGE_SUFFIXES or str(src).lower().endswith((".npz", ".json", ".json.gz")):
        raise InputError(f"{src}: --annotate needs a video (the frames to draw on)")
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fw, fh = track.frame_size
    scale = min(1.0, MAX_HEIGHT / fh)
    pw, ph = _even(fw * scale), _even(fh * scale)
    panel_w = _even(PANEL_FRACTION * ph)
    size = (pw + panel_w, ph)

    os.environ["SDL_VIDEODRIVER"] = "dummy"  # offscreen, whatever display the machine has
    # SDL would take SIGINT and SIGTERM for itself (as a quit event nobody reads here): Ctrl-C must
    # stop the run, as it stops the rest of `analyze`.
    os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
    display = open_display(size, fullscreen=False, vsync=False, hidden=True)
    try:  # closed whatever happens: its textures must go before its window (see Display.close)
        canvas = display.canvas
        px = canvas.px
        picture = pygame.Rect(0, 0, pw, ph)
        panel = pygame.Rect(pw, 0, panel_w, ph)
        m = px(20)
        title = pygame.Rect(panel.x + m, m, panel.w - 2 * m, px(110))
        counter_rect = pygame.Rect(panel.x + m, title.bottom + m, panel.w - 2 * m, px(260))
        cue_rect = pygame.Rect(panel.x + m, size[1] - m - px(170), panel.w - 2 * m, px(170))
        gauge_w = px(110)
        strip_rect = pygame.Rect(panel.x + m, counter_rect.bottom + m, panel.w - 3 * m - gauge_w, 0)
        strip_rect.h = cue_rect.y - m - strip_rect.y
        gauge_rect = pygame.Rect(strip_rect.right + m, strip_rect.y, gauge_w, strip_rect.h)
        view = w.View()
        view.set(fw, fh, picture, mirror=False)

        d = get_drill(drill)

        def new_engine() -> HingeEngine:
            return HingeEngine(d, setup=setup, frame_size=(fw, fh))

        # A first pass, as `analyze` makes it: the total, so the counter reads "3 / 10" from the start,
        # and the reps as numbered there (a quick bell pickup or set-down taken out) by lockout time.
        found = analyze_track(track, d.name, setup=setup)
        total = len(found.reps)
        counted = {rep.end_s: rep for rep in found.reps}
        engine = new_engine()
        reps: list[Any] = []
        width = max(3.0, ph * 0.009)

        def draw(image: np.ndarray, snap: FrameSnapshot) -> None:
            canvas.clear(th.BLACK)
            canvas.camera(image, picture, mirror=False)
            w.body_overlay(canvas, view, snap, d.has_wall, width)
            canvas.rect(panel, th.BLACK)
            canvas.panel(title, th.PANEL)
            canvas.text(
                d.title,
                canvas.fit(d.title, px(th.HEADLINE), title.w - px(40)),
                th.INK,
                (title.x + px(20), title.centery),
                "midleft",
                bg=th.PANEL,
            )
            w.counter(canvas, counter_rect, len(reps), total, *tally(reps), portrait=True)
            w.score_strip(canvas, strip_rect, reps, total, vertical=True)
            w.depth_gauge(canvas, gauge_rect, snap.depth if snap.person else 0.0, d.has_wall)
            w.cue_banner(canvas, cue_rect, snap.cue)

        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        rate = max(1, round(track.fps)) if track.fps > 0 else 30
        # Each frame keeps its own time, in milliseconds from the first: a phone's frame rate varies
        # (slower in dim light), and frames laid end to end at one rate replay the slow parts fast.
        ms = Fraction(1, 1000)
        t0 = float(track.t[0])
        last_pts = -1
        with av.open(str(out_path), "w") as container, VideoFileSource(src, realtime=False) as source:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = ms
            if codec == "libx264":
                stream.options = {"crf": "21", "preset": "veryfast"}

            def emit(image: np.ndarray, snap: FrameSnapshot, times: list[float]) -> None:
                """The frame with its overlay, shown at each of `times` (seconds, the track's clock)."""
                nonlocal last_pts
                draw(image, snap)
                shot = canvas.snapshot()
                arr = np.frombuffer(pygame.image.tobytes(shot, "RGB"), np.uint8).reshape(size[1], size[0], 3)
                for t in times:
                    frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
                    frame.pts = last_pts = max(last_pts + 1, round(1000.0 * (t - t0)))
                    frame.time_base = ms
                    for packet in stream.encode(frame):
                        container.mux(packet)

            n = len(track)
            last: tuple[np.ndarray, FrameSnapshot] | None = None
            for i, frame in enumerate(source):
                if i >= n:
                    break
                t = float(track.t[i])
                if math.isfinite(frame.t) and abs(frame.t - t) > 0.5 / max(rate, 1):
                    raise InputError(
                        f"{src}: frame {i} is at {frame.t:.3f} s in the video but {t:.3f} s in the pose "
                        "track; annotate the video the track was made from"
                    )
                result = engine.step(track.keypoints[i], t)
                if result.rep is not None and result.rep.end_s in counted:
                    reps.append(counted[result.rep.end_s])
                snap = FrameSnapshot.from_result(result, d.name)
                # Scaled by swscale whenever it is smaller (SDL's software renderer would pick the
                # nearest pixel): a review is watched closely, and encoding costs more than this.
                image = frame.picture_for(picture.size, scale_below=1.0)
                emit(image, snap, [t])
                last = (image, snap)
            if last is None:
                raise InputError(f"{src}: no frames to annotate")
            final = engine.finish(float(track.t[min(n, i + 1) - 1]))
            if final.rep is not None and final.rep.end_s in counted:
                reps.append(counted[final.rep.end_s])
            # The final tally stays up for HOLD_S, a frame every 1/rate.
            end = float(track.t[min(n, i + 1) - 1])
            hold = [end + k / rate for k in range(1, max(1, round(HOLD_S * rate)) + 1)]
            emit(last[0], FrameSnapshot.from_result(final, d.name), hold)
            for packet in stream.encode():
                container.mux(packet)
    finally:
        display.close()
    return out_path
