"""A synthetic performer: a 2-D kinematic body that hinges on command.

It produces pose tracks of hinges with chosen faults, depth and tempo, keypoint noise, dropouts,
walking in and out and picking a bell up or setting it down, with the ground truth of every rep.
Unit tests use it to check the engine where real footage has no labels; the demo mode uses it to
run the whole kiosk with no camera and no model.

The body is a chain of rigid segments with adult proportions (Winter): shank 0.246 H, thigh
0.245 H, trunk 0.288 H (hip to shoulder), neck 0.11 H (shoulder to ear), upper arm 0.186 H,
forearm 0.146 H. A pose is set by the shin angle, knee flexion, trunk angle, a head angle and a
rounding of the upper back; the feet stay planted unless the performer walks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from kiosk.body import NUM_KEYPOINTS, BodyPart
from kiosk.metrics import FOOT_PER_SHIN, com_forward
from kiosk.track import PoseTrack

SHIN, THIGH, TRUNK, NECK, UPPER_ARM, FOREARM = 0.246, 0.245, 0.288, 0.11, 0.186, 0.146
ANKLE_HEIGHT = 0.039
HEAD = 0.085  # ear to nose
SHOULDER_WIDTH, HIP_WIDTH = 0.259, 0.191


@dataclass(frozen=True)
class Posture:
    """Joint angles in degrees. Positive: knee bent, trunk leaning forward, head dropped toward
    the chest, upper back rounded (shoulders curled toward the floor). The shin angle is not
    chosen but solved so the body's centre of mass sits `com` foot lengths ahead of the ankle, as
    a real body balances: about +0.2 is mid-foot, +0.7 up on the toes."""

    knee: float = 5.0
    trunk: float = 0.0
    head: float = 0.0
    rounding: float = 0.0
    com: float = 0.2

    def blend(self, other: Posture, p: float) -> Posture:
        q = 1.0 - p
        return Posture(
            q * self.knee + p * other.knee,
            q * self.trunk + p * other.trunk,
            q * self.head + p * other.head,
            q * self.rounding + p * other.rounding,
            q * self.com + p * other.com,
        )


STAND = Posture()
# Bottom positions, per fault. A clean hinge: trunk well forward, soft knees, hips back.
BOTTOMS: dict[str | None, Posture] = {
    None: Posture(knee=22.0, trunk=78.0, head=6.0),
    "rounded_back": Posture(knee=22.0, trunk=70.0, head=40.0, rounding=35.0),
    "squatting": Posture(knee=110.0, trunk=42.0),
    "weight_forward": Posture(knee=30.0, trunk=72.0, head=5.0, com=0.75),
    "head_out_of_line": Posture(knee=22.0, trunk=76.0, head=-45.0),
    "shallow": Posture(knee=12.0, trunk=42.0, head=3.0),
    "hyperextension": Posture(knee=22.0, trunk=78.0, head=6.0),
}
# A clean kettlebell deadlift bends the knees more to reach the bell; the bell in front lets
# the body's own centre of mass sit further back.
KB_DEADLIFT_BOTTOM = Posture(knee=55.0, trunk=62.0, head=8.0, com=0.05)
LEAN_BACK = Posture(knee=0.0, trunk=-20.0, head=-5.0)


@dataclass(frozen=True)
class RepSpec:
    """One rep: its fault (None = clean), depth (1 = the fault's full bottom) and tempo.
    `bottom` replaces the fault's stock bottom posture (for variants of a fault)."""

    fault: str | None = None
    depth: float = 1.0
    down_s: float = 1.2
    bottom_s: float = 0.3
    up_s: float = 1.0
    rest_s: float = 1.0
    bottom: Posture | None = None


@dataclass(frozen=True)
class Scenario:
    """A whole recording: who, where, how noisy, and the reps."""

    reps: tuple[RepSpec, ...] = tuple(RepSpec() for _ in range(5))
    drill: str = "hinge"
    fps: float = 30.0
    frame_size: tuple[int, int] = (640, 480)
    height_frac: float = 0.72  # body height as a fraction of the frame height
    facing: int = 1  # +1: nose toward +x
    yaw_deg: float = 0.0  # 0 = exactly side-on; 90 = facing the camera
    noise_px: float = 2.0
    dropout: float = 0.02  # chance a keypoint is missed (low score) in a frame
    walk_in_s: float = 0.0  # walking into place from the edge of the frame first
    walk_out_s: float = 0.0
    stand_s: float = 1.5  # standing still before the first rep
    pickup_s: float = 0.0  # > 0: bend down and hold this long (pick up a bell) before rep 1
    setdown_s: float = 0.0  # > 0: bend down and hold this long (put it down) after the last rep
    arms: str = "hang"  # "hang" (a bell or nothing in the hands) or "dowel" (hands at neck and low back)
    seed: int = 0


@dataclass(frozen=True)
class TruthRep:
    index: int
    start_s: float
    bottom_s: float
    end_s: float
    fault: str | None


@dataclass
class Performance:
    track: PoseTrack
    truth: list[TruthRep] = field(default_factory=list)


@dataclass(frozen=True)
class _Segment:
    """A stretch of time with one motion: hold, move between postures, or walk."""

    t0: float
    t1: float
    start: Posture
    end: Posture
    walk_from: float = 0.0  # body x offset (in heights) at t0 and t1, for walking
    walk_to: float = 0.0


def _ease(p: float) -> float:
    """Smooth start and stop (a cosine ramp), like a real movement."""
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, p)))


def _bottom(drill: str, spec: RepSpec) -> Posture:
    if spec.bottom is not None:
        return STAND.blend(spec.bottom, spec.depth)
    kb_clean = drill == "kettlebell-deadlift" and spec.fault is None
    return STAND.blend(KB_DEADLIFT_BOTTOM if kb_clean else BOTTOMS[spec.fault], spec.depth)


def _bend_and_hold(segs: list[_Segment], t: float, reach: Posture, hold_s: float) -> float:
    """Bend down to the floor, hold (picking a bell up or putting it down), stand, pause.
    Appends the segments from time `t`; returns when they end."""
    segs += [
        _Segment(t, t + 1.0, STAND, reach),
        _Segment(t + 1.0, t + 1.0 + hold_s, reach, reach),
        _Segment(t + 1.0 + hold_s, t + 2.0 + hold_s, reach, STAND),
        _Segment(t + 2.0 + hold_s, t + 3.0 + hold_s, STAND, STAND),
    ]
    return t + 3.0 + hold_s


def _timeline(sc: Scenario) -> tuple[list[_Segment], list[TruthRep]]:
    segs: list[_Segment] = []
    truth: list[TruthRep] = []
    t = 0.0
    if sc.walk_in_s > 0:
        segs.append(_Segment(t, t + sc.walk_in_s, STAND, STAND, walk_from=-1.2, walk_to=0.0))
        t += sc.walk_in_s
    segs.append(_Segment(t, t + sc.stand_s, STAND, STAND))
    t += sc.stand_s
    reach = _bottom(sc.drill, RepSpec(depth=1.0))
    if sc.pickup_s > 0:
        t = _bend_and_hold(segs, t, reach, sc.pickup_s)
    for i, spec in enumerate(sc.reps):
        bottom = _bottom(sc.drill, spec)
        t0 = t
        segs.append(_Segment(t, t + spec.down_s, STAND, bottom))
        t += spec.down_s
        segs.append(_Segment(t, t + spec.bottom_s, bottom, bottom))
        t_bottom = t + spec.bottom_s / 2
        t += spec.bottom_s
        if spec.fault == "hyperextension":
            # Finishing by leaning back: the rise overshoots vertical, holds, then recovers.
            segs.append(_Segment(t, t + spec.up_s, bottom, LEAN_BACK))
            t += spec.up_s
            truth.append(TruthRep(i + 1, t0, t_bottom, t, spec.fault))
            segs.append(_Segment(t, t + 0.4, LEAN_BACK, LEAN_BACK))
            segs.append(_Segment(t + 0.4, t + 0.8, LEAN_BACK, STAND))
            t += 0.8
        else:
            segs.append(_Segment(t, t + spec.up_s, bottom, STAND))
            t += spec.up_s
            truth.append(TruthRep(i + 1, t0, t_bottom, t, spec.fault))
        segs.append(_Segment(t, t + spec.rest_s, STAND, STAND))
        t += spec.rest_s
    if sc.setdown_s > 0:
        t = _bend_and_hold(segs, t, reach, sc.setdown_s)
    if sc.walk_out_s > 0:
        segs.append(_Segment(t, t + sc.walk_out_s, STAND, STAND, walk_from=0.0, walk_to=1.4))
        t += sc.walk_out_s
    return segs, truth


class Performer:
    """Poses of one scenario over time: `pose_at(t)` for any t, `perform()` for a whole track."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.segments, self.truth = _timeline(scenario)
        self.duration_s = self.segments[-1].t1 if self.segments else 0.0
        self._rng = np.random.default_rng(scenario.seed)
        self._shins: dict[Posture, float] = {}
        w, h = scenario.frame_size
        self.body_px = scenario.height_frac * h
        self.floor_y = 0.95 * h
        # Ankles a little toward the front so the hips, travelling back, stay in frame.
        self.ankle_x = w * (0.5 + 0.08 * scenario.facing)

    def _shin(self, post: Posture) -> float:
        if post not in self._shins:
            self._shins[post] = _balanced_shin(post, self.scenario.facing)
        return self._shins[post]

    def posture_at(self, t: float) -> tuple[Posture, float, float]:
        """The posture, its shin angle and the walking offset (in body heights) at time `t`.

        Shin angles are solved at the ends of each movement and blended between them, which keeps
        the body balanced to within a degree or two without solving every frame."""
        for seg in self.segments:
            if seg.t0 <= t < seg.t1:
                p = _ease((t - seg.t0) / (seg.t1 - seg.t0))
                walk = seg.walk_from + (seg.walk_to - seg.walk_from) * (t - seg.t0) / (seg.t1 - seg.t0)
                shin = (1.0 - p) * self._shin(seg.start) + p * self._shin(seg.end)
                return seg.start.blend(seg.end, p), shin, walk
        last = self.segments[-1] if self.segments else None
        if last is None:
            return STAND, self._shin(STAND), 0.0
        return last.end, self._shin(last.end), last.walk_to

    def clean_pose_at(self, t: float) -> np.ndarray:
        """Noise-free keypoints (17, 3) at time `t`; scores model a near and a far side."""
        sc = self.scenario
        posture, shin, walk = self.posture_at(t)
        walking = any(seg.t0 <= t < seg.t1 and seg.walk_from != seg.walk_to for seg in self.segments)
        return _pose(
            posture,
            shin,
            body_px=self.body_px,
            ankle=(self.ankle_x + walk * self.body_px * sc.facing * -1.0, self.floor_y),
            facing=sc.facing,
            yaw_deg=sc.yaw_deg,
            kneeling=sc.drill == "kneeling-hinge",
            stride=math.sin(t * 2 * math.pi * 1.8) if walking else 0.0,
            dowel=sc.arms == "dowel",
        )

    def pose_at(self, t: float) -> np.ndarray:
        """Keypoints with noise and dropouts, as a pose model would report them."""
        kp = self.clean_pose_at(t)
        sc = self.scenario
        rng = self._rng
        kp[:, :2] += rng.normal(0.0, sc.noise_px, size=(NUM_KEYPOINTS, 2))
        missed = rng.random(NUM_KEYPOINTS) < sc.dropout
        kp[missed, 2] = rng.uniform(0.02, 0.2, size=int(missed.sum()))
        w, h = sc.frame_size
        outside = (kp[:, 0] < 0) | (kp[:, 0] >= w) | (kp[:, 1] < 0) | (kp[:, 1] >= h)
        kp[outside, 2] = np.minimum(kp[outside, 2], 0.1)
        return kp.astype(np.float32)

    def frames(self, start_s: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
        """(t, keypoints) at the scenario's frame rate, from `start_s` to the end."""
        dt = 1.0 / self.scenario.fps
        n = round((self.duration_s - start_s) / dt)
        for i in range(n):
            t = start_s + i * dt
            yield t, self.pose_at(t)

    def perform(self) -> Performance:
        """The whole scenario as a pose track, with the truth of each rep."""
        ts, kps = [], []
        for t, kp in self.frames():
            ts.append(t)
            kps.append(kp)
        track = PoseTrack(np.stack(kps), np.asarray(ts, np.float64), self.scenario.frame_size, "synthetic")
        return Performance(track, list(self.truth))


def perform(scenario: Scenario | None = None, **changes: object) -> Performance:
    """Shortcut: `perform(reps=..., noise_px=...)` builds a scenario and performs it."""
    sc = replace(scenario or Scenario(), **changes)  # type: ignore[arg-type]
    return Performer(sc).perform()


def posture_keypoints(
    posture: Posture,
    *,
    facing: int = 1,
    yaw_deg: float = 0.0,
    body_px: float = 400.0,
    ankle: tuple[float, float] = (320.0, 460.0),
    kneeling: bool = False,
) -> np.ndarray:
    """Noise-free keypoints (17, 3) of one balanced posture: for tests and figures."""
    shin = 0.0 if kneeling else _balanced_shin(posture, facing)
    kp = _pose(posture, shin, body_px=body_px, ankle=ankle, facing=facing, yaw_deg=yaw_deg, kneeling=kneeling)
    return kp.astype(np.float32)


def _dir(angle_deg: float, facing: int) -> tuple[float, float]:
    """Unit vector `angle_deg` from vertical-up, positive toward the facing direction."""
    a = math.radians(angle_deg)
    return facing * math.sin(a), -math.cos(a)


def _balanced_shin(post: Posture, facing: int) -> float:
    """The shin angle (degrees) that puts the centre of mass at `post.com` (bisection: leaning
    the shins forward moves everything above them forward)."""
    lo, hi = -30.0, 60.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        kp = _pose(post, mid, body_px=1.0, ankle=(0.0, 0.0), facing=facing, yaw_deg=0.0, kneeling=False)
        b = BodyPart
        com = com_forward(
            facing,
            *(kp[p, 0] for p in (b.LEFT_EAR, b.LEFT_SHOULDER, b.LEFT_ELBOW, b.LEFT_WRIST)),
            *(kp[p, 0] for p in (b.LEFT_HIP, b.LEFT_KNEE, b.LEFT_ANKLE)),
            FOOT_PER_SHIN * SHIN,
        )
        if com < post.com:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _pose(
    post: Posture,
    shin: float,
    *,
    body_px: float,
    ankle: tuple[float, float],
    facing: int,
    yaw_deg: float,
    kneeling: bool,
    stride: float = 0.0,
    dowel: bool = False,
) -> np.ndarray:
    H = body_px
    f = facing
    ax, floor = ankle
    kp = np.zeros((NUM_KEYPOINTS, 3), np.float64)
    if kneeling:
        # Knees on the floor, shins flat behind; `knee` here tilts the thigh back toward the heels.
        knee = (ax, floor - 0.03 * H)
        ank = (ax - f * SHIN * H, floor - 0.03 * H)
        thigh_back = post.knee
        tx, ty = _dir(-thigh_back, f)
    else:
        ank = (ax, floor - ANKLE_HEIGHT * H)
        sx, sy = _dir(shin, f)
        knee = (ank[0] + sx * SHIN * H, ank[1] + sy * SHIN * H)
        tx, ty = _dir(shin - post.knee, f)
    hip = (knee[0] + tx * THIGH * H, knee[1] + ty * THIGH * H)
    # The trunk: a lower half along `trunk`, an upper half curled by `rounding`.
    lx, ly = _dir(post.trunk, f)
    mid = (hip[0] + lx * 0.5 * TRUNK * H, hip[1] + ly * 0.5 * TRUNK * H)
    ux, uy = _dir(post.trunk + post.rounding, f)
    shoulder = (mid[0] + ux * 0.5 * TRUNK * H, mid[1] + uy * 0.5 * TRUNK * H)
    nx, ny = _dir(post.trunk + post.rounding + post.head, f)
    ear = (shoulder[0] + nx * NECK * H, shoulder[1] + ny * NECK * H)
    fx, fy = _dir(post.trunk + post.rounding + post.head + 95.0, f)
    nose = (ear[0] + fx * HEAD * H, ear[1] + fy * HEAD * H)
    eye = (nose[0] - fx * 0.025 * H - nx * 0.02 * H, nose[1] - fy * 0.025 * H - ny * 0.02 * H)
    # Arms hang from the shoulders (holding a bell, or nothing), forearms a little forward; or
    # hold a dowel along the back: the near hand behind the neck, the far one at the low back.
    elbow = (shoulder[0] + f * 0.02 * H, shoulder[1] + UPPER_ARM * H)
    wrist = (elbow[0] + f * 0.03 * H, elbow[1] + FOREARM * H)
    far_elbow, far_wrist = elbow, wrist
    if dowel:
        bx, by = _dir(post.trunk - 90.0, f)  # out of the back
        wrist = (shoulder[0] + bx * 0.06 * H + nx * 0.04 * H, shoulder[1] + by * 0.06 * H + ny * 0.04 * H)
        elbow = (shoulder[0] + bx * 0.16 * H + lx * 0.06 * H, shoulder[1] + by * 0.16 * H + ly * 0.06 * H)
        far_wrist = (hip[0] + bx * 0.1 * H + lx * 0.08 * H, hip[1] + by * 0.1 * H + ly * 0.08 * H)
        far_elbow = (mid[0] + bx * 0.2 * H, mid[1] + by * 0.2 * H)

    # Near side (facing the camera) and far side; yaw spreads the far side by body widths.
    spread = math.sin(math.radians(yaw_deg))
    far_dx = {"shoulder": SHOULDER_WIDTH * H * spread, "hip": HIP_WIDTH * H * spread}
    # Facing +x, the camera sees the right side of the body.
    near_is_left = f < 0
    step = 0.12 * H * stride

    def put(
        part: str,
        p: tuple[float, float],
        dx: float,
        near_score: float,
        far_score: float,
        far: tuple[float, float] | None = None,
    ) -> None:
        left, right = BodyPart[f"LEFT_{part}"], BodyPart[f"RIGHT_{part}"]
        n, o = (left, right) if near_is_left else (right, left)
        q = p if far is None else far
        kp[n] = (p[0], p[1], near_score)
        kp[o] = (q[0] + dx, q[1], far_score)

    w_sh = far_dx["shoulder"]
    w_hip = far_dx["hip"]
    put("EAR", ear, 0.12 * H * spread, 0.75, 0.35 + 0.4 * spread)
    put("EYE", eye, 0.06 * H * spread, 0.8, 0.4 + 0.4 * spread)
    put("SHOULDER", shoulder, w_sh, 0.8, 0.55 + 0.25 * spread)
    put("ELBOW", elbow, w_sh, 0.75, 0.45 + 0.3 * spread, far_elbow)
    put("WRIST", wrist, w_sh, 0.7, 0.45 + 0.3 * spread, far_wrist)
    put("HIP", hip, w_hip, 0.8, 0.6 + 0.2 * spread)
    put("KNEE", (knee[0] + step * 0.5, knee[1]), w_hip, 0.8, 0.6 + 0.2 * spread)
    put("ANKLE", (ank[0] + step, ank[1]), w_hip, 0.75, 0.55 + 0.2 * spread)
    if stride:
        # Walking: the far leg swings opposite to the near one.
        other = BodyPart.RIGHT_ANKLE if near_is_left else BodyPart.LEFT_ANKLE
        kp[other, 0] -= 2 * step
    kp[BodyPart.NOSE] = (nose[0] + 0.03 * H * spread, nose[1], 0.85)
    return kp
