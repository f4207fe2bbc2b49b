"""Demo mode: the synthetic performer stands in for the camera and the pose model.

A looping script: nobody for a few seconds (the attract screen), someone walks in and stands
side-on, raises a hand to pick a drill, does two short sets with a mix of clean and faulty reps
and a rest between them, walks out, and nobody is there until the mirror times out and the loop
starts again. `DemoCamera` is a live `FrameSource` that paints each frame (a stylised figure from
the performer's noise-free keypoints on a studio backdrop) at 30 fps with its capture time;
`DemoEstimator` answers with the performer's noisy keypoints for that frame, as a pose model would.
So the whole kiosk (pipeline, engine, flow, display, audio, history) runs on any machine.

The demo's session settings (`DEMO_SESSION`) are shorter than a real session so a whole loop fits
in about 90 seconds; they override the configuration only in demo mode. The figure costs ~3 ms a
frame on the source's own thread: a backdrop blit, a dozen shapes and one copy out of the Surface.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pygame

from kiosk.body import NUM_KEYPOINTS, BodyPart
from kiosk.performer import Performer, RepSpec, Scenario
from kiosk.pose import Prepared, StageTimes
from kiosk.preprocess import CropBox
from kiosk.sources import DEFAULT_MODEL_INPUT, EndOfStream, Frame, FrameSource, FrameTimeout

FRAME_SIZE = (
    1280,
    720,
)  # a landscape camera; a portrait mirror gets (720, 1280), as from a camera on its side
FPS = 30.0
# Shorter sets than a real session, so the whole story fits in one loop of about 90 s.
DEMO_SESSION = {"set_size": 5, "set_count": 2, "rest_s": 10.0, "drill_select": "pose"}
EMPTY_BEFORE_S = 4.0  # nobody in front of the mirror at the start of each loop ...
# ... and after the person walks out: the 15 s idle timeout, the attract screen (12 s) and a few
# seconds of the progress screen it rotates to.
EMPTY_AFTER_S = 15.0 + 12.0 + 5.0
HAND_UP = (4.5, 7.6)  # seconds after arrival the performer holds a hand up (picks the next drill)
SET_1 = ("clean", "rounded_back", "clean", "squatting", "clean")
SET_2 = ("clean", "shallow", "clean", "head_out_of_line", "clean")


@dataclass(frozen=True)
class DemoScript:
    """The loop: when the person is there and what they do."""

    performer: Performer
    start_s: float  # when the performer's timeline starts within the loop
    loop_s: float
    hand_up: tuple[float, float]  # loop times of the raised hand

    def pose_at(self, t: float, noisy: bool) -> np.ndarray | None:
        """The performer's keypoints at loop time `t` (None: nobody there)."""
        local = t - self.start_s
        if local < 0 or local >= self.performer.duration_s:
            return None
        kp = self.performer.pose_at(local) if noisy else self.performer.clean_pose_at(local)
        if self.hand_up[0] <= t < self.hand_up[1]:
            _raise_hand(kp, self.performer.body_px, (t - self.hand_up[0]) / 0.4)
        return kp


def demo_script(
    rest_s: float = DEMO_SESSION["rest_s"], seed: int = 5, frame_size: tuple[int, int] = FRAME_SIZE
) -> DemoScript:
    """The default demo loop (two sets of five with a rest of `rest_s`), filmed at `frame_size`."""

    def rep(fault: str, rest: float = 1.1) -> RepSpec:
        return RepSpec(
            fault=None if fault == "clean" else fault, down_s=1.25, bottom_s=0.35, up_s=1.05, rest_s=rest
        )

    set_1 = [rep(f) for f in SET_1]
    # After set 1: the rest, the 3-s countdown and a breath.
    set_1[-1] = rep(SET_1[-1], rest=rest_s + 4.0)
    set_2 = [rep(f) for f in SET_2]
    set_2[-1] = rep(SET_2[-1], rest=5.0)  # the session summary, before walking out
    walk_in = 3.0
    stand = HAND_UP[1] + 8.0  # placement, the hand held up, then standing still until the auto-start
    scenario = Scenario(
        reps=tuple(set_1 + set_2),
        drill="hinge",
        fps=FPS,
        frame_size=frame_size,
        height_frac=0.74 if frame_size[0] >= frame_size[1] else 0.6,
        facing=1,
        noise_px=1.5,
        dropout=0.01,
        walk_in_s=walk_in,
        walk_out_s=3.0,
        stand_s=stand - walk_in,
        seed=seed,
    )
    performer = Performer(scenario)
    start = EMPTY_BEFORE_S
    hand = (start + HAND_UP[0], start + HAND_UP[1])
    return DemoScript(performer, start, start + performer.duration_s + EMPTY_AFTER_S, hand)


def _raise_hand(kp: np.ndarray, body_px: float, progress: float) -> None:
    """Move both arms (near and far) overhead; `progress` 0..1 eases the arm up."""
    p = min(1.0, max(0.0, progress))
    for shoulder, elbow, wrist in (
        (BodyPart.LEFT_SHOULDER, BodyPart.LEFT_ELBOW, BodyPart.LEFT_WRIST),
        (BodyPart.RIGHT_SHOULDER, BodyPart.RIGHT_ELBOW, BodyPart.RIGHT_WRIST),
    ):
        sx, sy = kp[shoulder, 0], kp[shoulder, 1]
        up_elbow = (sx + 0.02 * body_px, sy - 0.18 * body_px)
        up_wrist = (sx + 0.03 * body_px, sy - 0.33 * body_px)
        kp[elbow, 0] += (up_elbow[0] - kp[elbow, 0]) * p
        kp[elbow, 1] += (up_elbow[1] - kp[elbow, 1]) * p
        kp[wrist, 0] += (up_wrist[0] - kp[wrist, 0]) * p
        kp[wrist, 1] += (up_wrist[1] - kp[wrist, 1]) * p


# --------------------------------------------------------------------------------- the picture

WALL_TOP = (38, 42, 52)
WALL_BOTTOM = (62, 66, 78)
FLOOR_NEAR = (74, 66, 60)
FLOOR_FAR = (96, 88, 80)
BODY = (150, 166, 190)  # near-side limbs and torso
BODY_FAR = (104, 116, 136)  # far-side limbs
SKIN = (214, 186, 160)
SHIRT = (64, 120, 190)
SHORTS = (44, 50, 64)


def backdrop(size: tuple[int, int], floor_y: float) -> pygame.Surface:
    """A plain studio: a wall with a soft light behind the lifter, a floor, a skirting board."""
    w, h = size
    surf = pygame.Surface(size)
    fy = int(floor_y)
    for y in range(h):
        if y < fy:
            p = y / max(1, fy)
            c = tuple(round(a + (b - a) * p) for a, b in zip(WALL_TOP, WALL_BOTTOM, strict=True))
        else:
            p = (y - fy) / max(1, h - fy)
            c = tuple(round(a + (b - a) * p) for a, b in zip(FLOOR_FAR, FLOOR_NEAR, strict=True))
        pygame.draw.line(surf, c, (0, y), (w, y))
    glow = pygame.Surface((w, fy), pygame.SRCALPHA)
    for i in range(24, 0, -1):
        r = i / 24
        pygame.draw.ellipse(
            glow,
            (255, 240, 220, 5),
            pygame.Rect(w * (0.5 - 0.38 * r), fy * (0.55 - 0.5 * r), w * 0.76 * r, fy * r),
        )
    surf.blit(glow, (0, 0))
    pygame.draw.rect(surf, (30, 32, 38), pygame.Rect(0, fy - round(h * 0.025), w, round(h * 0.025)))
    for x in range(round(w * 0.08), w, round(w * 0.21)):  # wall panels
        pygame.draw.line(surf, (50, 55, 66), (x, 0), (x, fy - round(h * 0.025)), 2)
    return surf


class FigurePainter:
    """Paints the demo person from keypoints onto the backdrop (runs on the source thread)."""

    def __init__(self, size: tuple[int, int], body_px: float, floor_y: float, facing: int) -> None:
        self.size = size
        self.facing = facing
        self.body_px = body_px
        self.floor_y = floor_y
        self.background = backdrop(size, floor_y)
        self.canvas = pygame.Surface(size)

    def paint(self, kp: np.ndarray | None) -> np.ndarray:
        """The frame as a new (H, W, 3) uint8 array."""
        s = self.canvas
        s.blit(self.background, (0, 0))
        if kp is not None:
            self._person(s, kp)
        w, h = self.size
        return np.frombuffer(pygame.image.tobytes(s, "RGB"), np.uint8).reshape(h, w, 3)

    def _person(self, s: pygame.Surface, kp: np.ndarray) -> None:
        H = self.body_px
        b = BodyPart
        near_right = kp[b.RIGHT_HIP, 2] >= kp[b.LEFT_HIP, 2]
        near, far = ("RIGHT", "LEFT") if near_right else ("LEFT", "RIGHT")

        def pt(side: str, part: str) -> tuple[float, float]:
            i = BodyPart[f"{side}_{part}"]
            return float(kp[i, 0]), float(kp[i, 1])

        # Shadow on the floor under the feet.
        ax = 0.5 * (pt(near, "ANKLE")[0] + pt(far, "ANKLE")[0])
        shadow = pygame.Rect(0, 0, round(0.32 * H), round(0.03 * H))
        shadow.center = (round(ax), round(self.floor_y))
        pygame.draw.ellipse(s, (40, 38, 40), shadow)
        limb = round(0.05 * H)
        self._limbs(s, far, pt, BODY_FAR, limb, SHORTS)
        # Torso: a thick band from hips to shoulders, a shirt colour.
        hip, sh = pt(near, "HIP"), pt(near, "SHOULDER")
        _capsule(s, SHIRT, hip, sh, round(0.13 * H))
        _capsule(
            s,
            SHORTS,
            hip,
            (hip[0] + 0.25 * (sh[0] - hip[0]), hip[1] + 0.25 * (sh[1] - hip[1])),
            round(0.135 * H),
        )
        self._limbs(s, near, pt, BODY, limb, SHORTS)
        # Neck and head.
        ear = pt(near, "EAR")
        nose = float(kp[b.NOSE, 0]), float(kp[b.NOSE, 1])
        _capsule(s, SKIN, sh, ear, round(0.045 * H))
        head = (ear[0] + 0.35 * (nose[0] - ear[0]), ear[1] + 0.35 * (nose[1] - ear[1]))
        back = (ear[0] - 0.25 * (nose[0] - ear[0]), ear[1] - 0.25 * (nose[1] - ear[1]))
        pygame.draw.circle(s, (60, 44, 36), (round(back[0]), round(back[1])), round(0.055 * H))
        pygame.draw.circle(s, SKIN, (round(head[0]), round(head[1])), round(0.058 * H))

    def _limbs(
        self,
        s: pygame.Surface,
        side: str,
        pt: Callable[[str, str], tuple[float, float]],
        color: tuple[int, int, int],
        width: int,
        shorts: tuple[int, int, int],
    ) -> None:
        hip, knee, ankle = pt(side, "HIP"), pt(side, "KNEE"), pt(side, "ANKLE")
        _capsule(s, color, knee, ankle, round(width * 0.85))
        _capsule(s, shorts, hip, knee, round(width * 1.15))
        toe = (ankle[0] + self.facing * 0.09 * self.body_px, ankle[1] + 0.02 * self.body_px)
        _capsule(s, (36, 38, 44), ankle, toe, round(width * 0.8))
        sh, el, wr = pt(side, "SHOULDER"), pt(side, "ELBOW"), pt(side, "WRIST")
        _capsule(s, SHIRT if color == BODY else (48, 90, 146), sh, el, round(width * 0.85))
        _capsule(s, SKIN if color == BODY else (170, 146, 124), el, wr, round(width * 0.7))


def _capsule(
    s: pygame.Surface, color: tuple[int, int, int], a: tuple[float, float], b: tuple[float, float], width: int
) -> None:
    """A thick line with round ends."""
    pa, pb = (round(a[0]), round(a[1])), (round(b[0]), round(b[1]))
    r = max(1, width // 2)
    pygame.draw.line(s, color, pa, pb, max(1, width))
    pygame.draw.circle(s, color, pa, r)
    pygame.draw.circle(s, color, pb, r)


# ----------------------------------------------------------------------------- source + model


class DemoCamera(FrameSource):
    """A live source painting the demo script at 30 fps; frames carry their monotonic capture time."""

    live = True
    clocked = True

    def __init__(
        self,
        script: DemoScript,
        *,
        start_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`start_s`: where in the loop to begin (tests skip the empty start)."""
        self.name = "demo"
        self.script = script
        self._clock, self._sleep = clock, sleep
        perf = script.performer
        self.painter = FigurePainter(
            perf.scenario.frame_size, perf.body_px, perf.floor_y, perf.scenario.facing
        )
        self._origin = clock() - start_s
        self._index = round(start_s * FPS)
        self._closed = False
        # Noisy keypoints of recent frames, by frame time, for `DemoEstimator`.
        self._poses: dict[float, np.ndarray | None] = {}
        self._lock = threading.Lock()
        self.estimator = DemoEstimator(self)

    def loop_time(self, t: float) -> float:
        return (t - self._origin) % self.script.loop_s

    def read(self, timeout: float = 1.0) -> Frame:
        if self._closed:
            raise EndOfStream(self.name)
        due = self._origin + self._index / FPS
        now = self._clock()
        if due - now > timeout:
            self._sleep(max(0.0, timeout))
            raise FrameTimeout(f"{self.name}: next frame is due in {due - now:.2f} s")
        if due > now:
            self._sleep(due - now)
        else:  # behind: skip to the newest due frame, like a camera
            self._index = max(self._index, int((now - self._origin) * FPS))
        start = time.perf_counter()
        t = self._origin + self._index / FPS
        lt = self.loop_time(t)
        clean = self.script.pose_at(lt, noisy=False)
        noisy = self.script.pose_at(lt, noisy=True)
        rgb = self.painter.paint(clean)
        with self._lock:
            self._poses[t] = noisy
            while len(self._poses) > 16:
                self._poses.pop(next(iter(self._poses)))
        frame = Frame(rgb, t, self._index, None, time.perf_counter() - start)
        self._index += 1
        return frame

    def pose_for(self, t: float) -> np.ndarray | None:
        with self._lock:
            return self._poses.get(t)

    def close(self) -> None:
        self._closed = True

    def reopen(self) -> DemoCamera:
        """Open again after `close`, as the pipeline does after a failed read: painting goes on from
        the current time (its estimator is this camera's, so the same object comes back)."""
        self._closed = False
        return self


class DemoEstimator:
    """Stands in for `kiosk.pose.PoseEstimator` in the pipeline: the performer's noisy keypoints for
    each frame. Nothing is resampled: `prepare` hands the pipeline's buffer back untouched."""

    input_size = DEFAULT_MODEL_INPUT

    def __init__(self, camera: DemoCamera) -> None:
        self.camera = camera
        self.timings = StageTimes()
        self.crop: CropBox | None = None
        self._nobody = np.zeros((NUM_KEYPOINTS, 3), np.float32)

    def next_crop(self, frame_size: tuple[int, int]) -> CropBox:
        return CropBox.full_frame(*frame_size)

    def prepare(self, frame: Frame, box: CropBox, maker: object, out: np.ndarray) -> Prepared:
        return Prepared(box, box, out, 0.0)

    def estimate(self, frame: Frame, prepared: Prepared | None = None) -> np.ndarray:
        pose = self.camera.pose_for(frame.t)
        return self._nobody if pose is None else pose

    def reset(self) -> None:
        """Nothing to forget: the performer is not tracked."""


def demo_history_sets(now: float, seed: int = 3) -> list[tuple[float, str, list[dict]]]:
    """Plausible earlier sets for the demo's progress screen: (start time, drill, rep dicts),
    over the previous six days. Only ever written to the demo's throwaway history."""
    rng = np.random.default_rng(seed)
    out: list[tuple[float, str, list[dict]]] = []
    for day in range(6, 0, -1):
        if rng.random() < 0.25:
            continue
        for s in range(int(rng.integers(1, 4))):
            start = now - day * 86400.0 + 3600.0 * (s + rng.uniform(-2, 2))
            drill = "hinge" if rng.random() < 0.7 else "kettlebell-deadlift"
            reps = []
            for i in range(10):
                fault = rng.random() < 0.3 - 0.03 * (6 - day)
                faults = [str(rng.choice(["rounded_back", "squatting", "shallow"]))] if fault else []
                score = int(rng.integers(55, 80)) if fault else int(rng.integers(82, 100))
                end = start + 4.0 * (i + 1)
                reps.append(
                    {
                        "index": i + 1,
                        "start_s": end - 2.6,
                        "bottom_s": end - 1.2,
                        "end_s": end,
                        "score": score,
                        "faults": faults,
                        "tempo_down_s": 1.3,
                        "tempo_up_s": 1.1,
                        "wall_tap": not faults,
                    }
                )
            out.append((start, drill, reps))
    out.sort(key=lambda s: s[0])
    return out
