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
_MS = Fraction(1, 1000)  # the output's time base: each frame keeps its own time


def _even(n: float) -> int:
    return max(2, round(n / 2.0) * 2)


class _Overlay:
    """Draws one annotated frame: the picture with the body overlay, and the side panel."""

    def __init__(
        self,
        canvas: Any,
        size: tuple[int, int],
        picture_size: tuple[int, int],
        frame_size: tuple[int, int],
        drill: Any,
    ) -> None:
        import pygame

        from kiosk.display import widgets as w

        self.canvas, self.drill = canvas, drill
        px = canvas.px
        pw, ph = picture_size
        self.picture = pygame.Rect(0, 0, pw, ph)
        self.panel = pygame.Rect(pw, 0, size[0] - pw, ph)
        m = px(20)
        inner = self.panel.w - 2 * m
        self.title = pygame.Rect(self.panel.x + m, m, inner, px(110))
        self.counter = pygame.Rect(self.panel.x + m, self.title.bottom + m, inner, px(260))
        self.cue = pygame.Rect(self.panel.x + m, ph - m - px(170), inner, px(170))
        gauge_w = px(110)
        top = self.counter.bottom + m
        self.strip = pygame.Rect(self.panel.x + m, top, inner - m - gauge_w, self.cue.y - m - top)
        self.gauge = pygame.Rect(self.strip.right + m, top, gauge_w, self.strip.h)
        self.view = w.View()
        self.view.set(*frame_size, self.picture, mirror=False)
        self.line_width = max(3.0, ph * 0.009)

    def draw(self, image: np.ndarray, snap: Any, reps: list[Any], total: int) -> np.ndarray:
        """The annotated frame as (height, width, 3) RGB, for the encoder."""
        import pygame

        from kiosk.display import theme as th
        from kiosk.display import widgets as w
        from kiosk.flow import tally

        canvas, d = self.canvas, self.drill
        px = canvas.px
        canvas.clear(th.BLACK)
        canvas.camera(image, self.picture, mirror=False)
        w.body_overlay(canvas, self.view, snap, d.has_wall, self.line_width)
        canvas.rect(self.panel, th.BLACK)
        canvas.panel(self.title, th.PANEL)
        canvas.text(
            d.title,
            canvas.fit(d.title, px(th.HEADLINE), self.title.w - px(40)),
            th.INK,
            (self.title.x + px(20), self.title.centery),
            "midleft",
            bg=th.PANEL,
        )
        w.counter(canvas, self.counter, len(reps), total, *tally(reps), portrait=True)
        w.score_strip(canvas, self.strip, reps, total, vertical=True)
        w.depth_gauge(canvas, self.gauge, snap.depth if snap.person else 0.0, d.has_wall)
        w.cue_banner(canvas, self.cue, snap.cue)
        rgb = pygame.image.tobytes(canvas.snapshot(), "RGB")
        return np.frombuffer(rgb, np.uint8).reshape(self.panel.h, self.panel.right, 3)


class _Encoder:
    """H.264 (MPEG-4 part 2 where libx264 is missing) into an open container. Each frame keeps its
    own time, in milliseconds from the first: a phone's frame rate varies (slower in dim light), and
    frames laid end to end at one rate would replay the slow parts fast."""

    def __init__(self, container: Any, size: tuple[int, int], rate: int, t0: float) -> None:
        import av

        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self.container = container
        self.stream = container.add_stream(codec, rate=rate)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = _MS
        if codec == "libx264":
            self.stream.options = {"crf": "21", "preset": "veryfast"}
        self.t0 = t0
        self.last_pts = -1

    def write(self, rgb: np.ndarray, times: list[float]) -> None:
        """`rgb`, shown at each of `times` (seconds, the track's clock)."""
        import av

        for t in times:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = self.last_pts = max(self.last_pts + 1, round(1000.0 * (t - self.t0)))
            frame.time_base = _MS
            for packet in self.stream.encode(frame):
                self.container.mux(packet)

    def finish(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)


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

    from kiosk.analyze import analyze_track
    from kiosk.display import open_display
    from kiosk.drills import get_drill
    from kiosk.engine import HingeEngine
    from kiosk.flow import FrameSnapshot
    from kiosk.sources import IMAGE_SUFFIXES, VideoFileSource

    src = Path(video)
    if src.suffix.lower() in IMAGE_SUFFIXES or str(src).lower().endswith((".npz", ".json", ".json.gz")):
        raise InputError(f"{src}: --annotate needs a video (the frames to draw on)")
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fw, fh = track.frame_size
    scale = min(1.0, MAX_HEIGHT / fh)
    picture_size = (_even(fw * scale), _even(fh * scale))
    size = (picture_size[0] + _even(PANEL_FRACTION * picture_size[1]), picture_size[1])

    os.environ["SDL_VIDEODRIVER"] = "dummy"  # offscreen, whatever display the machine has
    # SDL would take SIGINT and SIGTERM for itself (as a quit event nobody reads here): Ctrl-C must
    # stop the run, as it stops the rest of `analyze`.
    os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
    display = open_display(size, fullscreen=False, vsync=False, hidden=True)
    try:  # closed whatever happens: its textures must go before its window (see Display.close)
        d = get_drill(drill)
        overlay = _Overlay(display.canvas, size, picture_size, (fw, fh), d)
        # A first pass, as `analyze` makes it: the total, so the counter reads "3 / 10" from the start,
        # and the reps as numbered there (a quick bell pickup or set-down taken out) by lockout time.
        found = analyze_track(track, d.name, setup=setup)
        total = len(found.reps)
        counted = {rep.end_s: rep for rep in found.reps}
        engine = HingeEngine(d, setup=setup, frame_size=(fw, fh))
        reps: list[Any] = []
        rate = max(1, round(track.fps)) if track.fps > 0 else 30

        with av.open(str(out_path), "w") as container, VideoFileSource(src, realtime=False) as source:
            encoder = _Encoder(container, size, rate, float(track.t[0]))
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
                image = frame.picture_for(picture_size, scale_below=1.0)
                encoder.write(overlay.draw(image, snap, reps, total), [t])
                last = (image, snap)
            if last is None:
                raise InputError(f"{src}: no frames to annotate")
            end = float(track.t[min(n, i + 1) - 1])
            final = engine.finish(end)
            if final.rep is not None and final.rep.end_s in counted:
                reps.append(counted[final.rep.end_s])
            # The final tally stays up for HOLD_S, a frame every 1/rate.
            hold = [end + k / rate for k in range(1, max(1, round(HOLD_S * rate)) + 1)]
            encoder.write(overlay.draw(last[0], FrameSnapshot.from_result(final, d.name), reps, total), hold)
            encoder.finish()
    finally:
        display.close()
    return out_path
