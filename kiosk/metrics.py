"""Per-frame measures of a hinge, from one smoothed pose.

Everything here is pure: keypoints with their weights and a timestamp in, `FrameMetrics` out
(the same object, updated in place). Lengths are divided by the body's own segment lengths so the
distance to the camera does not matter; angles are in degrees, signed by the direction the person
faces, so a left-facing and a right-facing lifter read the same. The body is read along its
midline: each left/right pair averaged by confidence (see `MetricsCore._midline`).

Conventions (`facing` = +1 when the nose points to +x in the image):
- trunk_angle: hip->shoulder from vertical; + = leaning forward, - = leaning back.
- thigh_angle: knee->hip from vertical; + = hips behind the knees.
- shin_angle: ankle->knee from vertical; + = knees ahead of the ankles.
- hip_flex = trunk_angle + thigh_angle (0 standing straight, about 90 with the trunk level;
  negative is extension). knee_flex = thigh_angle + shin_angle.
- alignment: the three-point (dowel) check. The shoulder's signed distance from the ear-hip line
  divided by the ear-hip distance; + = the shoulder sits on the back side of the line (a rounded
  back, or a head dropped toward the floor), - = the chest side (head cranked up, arched).
  0.1 is about 6 cm on an adult, roughly 30 degrees of bend at the shoulder.
- head_angle: the shoulder->ear direction against the hip->shoulder direction; + = head dropped.
- hip_travel: how far the hips sit behind the ankles (kneeling: behind the knees), in thigh lengths.
- height: the shoulders' height above the feet (kneeling: above the knees) in pixels; feet hidden
  for a moment count where they were last seen. Vertical distances survive any camera yaw, so
  this drives the rep counter from side and oblique views.
- Vertical and horizontal are the level picture's: with a camera roll in `Setup`, every measure
  and `ankle_x`/`ankle_y` are taken after turning the points back by it. `wall_x` is drawn over
  the picture, so it is in the picture's own pixels; framing is checked on the picture too.

Budget: about 300 float operations on Python floats a frame (numpy's per-call cost would exceed
the arithmetic on a handful of points), no arrays allocated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.body import BodyPart, Side
from kiosk.drills import Drill

NAN = math.nan
DEG = 180.0 / math.pi

# Body proportions as fractions of standing height H (Winter, Biomechanics and Motor Control of
# Human Movement): thigh 0.245 H, shank 0.246 H, foot 0.152 H. With the hip bent the buttocks sit
# about 0.08 H (14 cm on an adult) behind the hip keypoint, and the back of the heel about 0.035 H
# behind the ankle: those offsets turn "the glutes touch a wall d behind the heels" into a position
# of the hip keypoint (a 9-inch wall: hips 0.37 thigh lengths behind the ankles of a 170 cm lifter).
THIGH_H = 0.245
FOOT_PER_SHIN = 0.152 / 0.246
GLUTE_H = 0.08
HEEL_H = 0.035
DEFAULT_HEIGHT_CM = 170.0
# The wall sits fewer of a taller person's thigh lengths behind the ankles. Without the user's height,
# the tap is placed for a tall lifter: someone touching a real wall is never told to go deeper, and a
# 170 cm lifter is credited about 0.07 thigh lengths (3 cm) before touching it.
TAP_HEIGHT_CM = 195.0
CM_PER_IN = 2.54

# Segment mass fractions for the centre-of-mass estimate (Winter), both sides of the body taken
# at the visible side's keypoints: in a side view the hidden limbs sit behind the visible ones.
M_HEAD, M_TRUNK, M_UPPER_ARMS, M_FOREARMS = 0.081, 0.497, 0.056, 0.044
M_THIGHS, M_SHANKS, M_FEET = 0.200, 0.093, 0.029

# Side-on test: projected shoulder (or hip) width over torso length. Shoulder width is about 0.9
# torso lengths, so the ratio is ~0.9 sin(yaw): under 0.2 on every real side view we have, over
# 0.37 on the 30-45 degree oblique clips. Enter side-on below 0.26 (~17 deg), leave above 0.34.
SIDE_ON_ENTER, SIDE_ON_LEAVE = 0.26, 0.34

# One ankle this many leg lengths above the other: that foot is off the floor.
LIFTED_FOOT_LEGS = 0.2
# A foot on the floor hangs below its knee. The steepest shank a standing lift makes is about 45
# degrees from vertical (a deep squat's, from the side); the shared recordings read at most 32. An
# ankle placed further round than 60 degrees is not a foot bearing weight: in dim, noisy pictures
# the model put an ankle on the bar or a plate with a score over its threshold, and one such ankle
# read as a step (a rep lost) or as shins past horizontal (a clean pull called squatting).
# Kneeling, the shanks lie on the floor.
SHANK_MAX_DEG = 60.0
_SHANK_MIN_COS = math.cos(math.radians(SHANK_MAX_DEG))

# Another body. Between two frames a lifter's hips move at most 0.25 leg lengths in every set we
# have (a swing's hip snap, a lying hip extension); a jump of 0.6 is the single-person model
# switching to someone else (a passer-by) or back. Once the hips stay within 0.3 of the new place
# for 3 frames (not a one-frame glitch), the old body's ruler, side and standing height go.
BODY_JUMP_LEGS, BODY_SETTLE_LEGS, BODY_JUMP_FRAMES = 0.6, 0.3, 3

# A ruler learnt from another body. Side-on, a leg projects at over 0.96 of its length (the side-on
# test allows about 17 degrees of turn) and the model's joints jitter by a few percent, so a leg
# that reads under 0.75 of the ruler for a whole second, side-on and in frame, is not this body's:
# the ruler came from the model's guess at an empty room (low-scored points on a rack that make an
# outsize "body"), from someone else in the same place, or from before a step well back. The
# ruler is then learnt again from this body at once, instead of over the slow shrink below.
RULER_SHORT, RULER_STALE_S = 0.75, 1.0

# The feet stay planted through a rep. Ankles the model loses for a moment (hidden by the bell at the
# bottom, from an oblique camera) are taken where they were last seen this long ago at most, for the
# standing height only: as long as a rep's bottom may be held with the hands down (`Drill.max_dwell_s`).
FEET_MEMORY_S = 5.0
# Locked out (standing tall at the top of a rep): hips within this much of straight and the trunk
# within this much of vertical, knees straight or kneeling. The shared side-view pulls that reach
# the top read 4-6 degrees of hip flexion there; the margin leaves a lifter who stops a little short
# of straight locked out, and a hinge bends the hips past 45 degrees.
LOCKOUT_HIP_DEG, LOCKOUT_TRUNK_DEG, LOCKOUT_KNEE_DEG = 20.0, 15.0, 30.0

# Leaning back past vertical by more than this at the top is over-extension (about 10 cm of
# shoulder travel behind the hips on an adult).
HYPEREXT_DEG = 12.0

# Rows of the midline chain (see `MetricsCore._midline`).
MID_EAR, MID_SHOULDER, MID_ELBOW, MID_WRIST, MID_HIP, MID_KNEE, MID_ANKLE = range(7)

# Keypoints counted to decide whether a person is in view at all.
_PERSON_PARTS = (
    *(int(p) for p in BodyPart if p >= BodyPart.LEFT_SHOULDER),
    int(BodyPart.NOSE),
    int(BodyPart.LEFT_EAR),
    int(BodyPart.RIGHT_EAR),
)


def travel_cm(thighs: float, height_cm: float) -> float:
    """A distance in thigh lengths (how hip travel is measured) in centimetres, for a lifter this tall:
    the thigh is about a quarter of standing height (`THIGH_H`)."""
    return thighs * THIGH_H * height_cm


class FrameMetrics:
    """What the scoring core saw in one frame. NaN means "not measurable this frame"."""

    __slots__ = (
        "alignment",
        "ankle_x",
        "ankle_y",
        "com_forward",
        "depth",
        "facing",
        "hand_height",
        "head_angle",
        "height",
        "hip_flex",
        "hip_travel",
        "hyperextended",
        "in_frame",
        "knee_flex",
        "knee_forward",
        "leg_px",
        "lockout",
        "missing",
        "new_body",
        "person",
        "ready",
        "shin_angle",
        "side",
        "side_on",
        "side_ratio",
        "t",
        "thigh_angle",
        "trunk_angle",
        "wall_reached",
        "wall_x",
    )

    def __init__(self) -> None:
        self.clear(NAN)

    def clear(self, t: float) -> None:
        self.t = t
        self.person = False
        self.side: Side | None = None
        self.facing = 0
        self.side_on = False
        self.side_ratio = NAN
        self.in_frame = False
        self.missing = ""
        self.ready = False
        self.leg_px = NAN
        self._clear_measures()

    def _clear_measures(self) -> None:
        self.hip_flex = NAN
        self.knee_flex = NAN
        self.trunk_angle = NAN
        self.thigh_angle = NAN
        self.shin_angle = NAN
        self.alignment = NAN
        self.head_angle = NAN
        self.hand_height = NAN
        self.hip_travel = NAN
        self.height = NAN
        self.ankle_x = NAN
        self.ankle_y = NAN
        self.knee_forward = NAN
        self.com_forward = NAN
        self.wall_x = NAN
        self.wall_reached = False
        self.depth = NAN
        self.lockout = False
        self.hyperextended = False
        self.new_body = False  # on the frame the model is found on someone else (see BODY_JUMP_LEGS)


def _follow(prev: float, value: float, dt: float, tau: float) -> float:
    """Move `prev` toward `value` with time constant `tau` seconds (an exponential moving average
    that tolerates uneven frame times; dt / (tau + dt) is exp's first-order stand-in)."""
    if prev != prev:  # NaN: nothing to follow yet
        return value
    return prev + (value - prev) * dt / (tau + dt)


# Left/right keypoint pairs, ear to ankle, in the order of the MID_* rows.
_PAIRS = tuple(
    (int(BodyPart[f"LEFT_{p}"]), int(BodyPart[f"RIGHT_{p}"]))
    for p in ("EAR", "SHOULDER", "ELBOW", "WRIST", "HIP", "KNEE", "ANKLE")
)
_SHOULDERS_AND_HIPS = (_PAIRS[MID_SHOULDER], _PAIRS[MID_HIP])
_NOSE = int(BodyPart.NOSE)


# A picture rolled further than this is a camera to remount: the side-on and facing tests, made
# on the picture as recorded, would not hold.
MAX_ROLL_DEG = 20.0


@dataclass(frozen=True)
class Setup:
    """What the engine is told rather than sees: where the wall is, how tall the lifter is, and how
    far the camera is rolled.

    `camera_roll_deg` is how far the picture is turned clockwise from level as the camera records
    it: a door frame whose top leans right reads positive. Every measure against the vertical (the
    trunk's lean, the hips behind the ankles, the balance point, the wall) reads a rolled picture's
    lean as the lifter's: 3 degrees moves the hips about 0.1 thigh lengths (4 cm) against the
    ankles, enough to turn a clean rep into a faulted one. The measures undo the roll.
    """

    wall_distance_in: float = 9.0
    user_height_cm: float | None = None
    camera_roll_deg: float = 0.0


DEFAULT_SETUP = Setup()  # a 9-inch wall, height unknown, a level camera


class MetricsCore:
    """Turns smoothed poses into `FrameMetrics`, keeping the slow state that needs history:
    which side faces the camera, which way the person faces, and the body's segment lengths."""

    def __init__(
        self,
        drill: Drill,
        setup: Setup = DEFAULT_SETUP,
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        self.drill = drill
        self.frame_size = frame_size
        known_height = setup.user_height_cm if setup.user_height_cm and setup.user_height_cm > 0 else None
        height = known_height or DEFAULT_HEIGHT_CM
        tap_height = known_height or TAP_HEIGHT_CM
        # Levelling turns the picture back by the camera's roll, about the picture's origin (only
        # differences of positions are measured; framing is checked before, on the picture itself).
        roll = math.radians(setup.camera_roll_deg)
        self._level = setup.camera_roll_deg != 0.0
        self._cos, self._sin = math.cos(roll), math.sin(roll)
        # Where the hip keypoint is when the glutes touch the wall, in thigh lengths behind the
        # ankle: wall distance + heel offset - glute depth.
        wall_cm = setup.wall_distance_in * CM_PER_IN
        # At least a twentieth of a thigh: a wall closer than the glutes' depth is no wall.
        self.wall_thighs = max(0.05, (wall_cm + (HEEL_H - GLUTE_H) * tap_height) / (THIGH_H * tap_height))
        self._wall_line_thighs = (wall_cm + HEEL_H * height) / (THIGH_H * height)
        self.metrics = FrameMetrics()
        # The midline chain (see `_midline`), rows MID_EAR .. MID_ANKLE.
        self._mx = [0.0] * 7
        self._my = [0.0] * 7
        self._mok = [False] * 7
        self._feet_seen = False
        self.reset()

    def reset(self) -> None:
        """Forget the person (someone new may walk in)."""
        self._t = NAN
        self._side: Side | None = None
        self._forget_body()
        self._side_on = False
        self._last_person_t = -math.inf
        self._hip_x = self._hip_y = NAN
        self._jump_x = self._jump_y = NAN
        self._jump_frames = 0
        self.metrics.clear(NAN)

    def _forget_body(self) -> None:
        """Someone else is (or may be) in view: their ruler and side are learnt afresh."""
        self._side = None
        self._side_ema = self._facing_ema = self._ratio_ema = NAN
        self._facing = 0
        self.thigh_px = self.shin_px = self.torso_px = NAN
        self._short_since = NAN  # since when the legs read short of the ruler (see RULER_SHORT)
        self._feet_y, self._feet_t = NAN, -math.inf

    def _watch_body(self, x: float, y: float, dt: float) -> bool:
        """Follow the hips (`x`, `y`); True on the frame they have settled after a jump no body
        makes (see `BODY_JUMP_LEGS`)."""
        leg = self.thigh_px + self.shin_px
        new = False
        if not leg > 0.0 or dt <= 0.0:  # no ruler yet, or a gap in the frames
            self._jump_frames = 0
        elif self._jump_frames:
            if math.hypot(x - self._jump_x, y - self._jump_y) > BODY_SETTLE_LEGS * leg:
                self._jump_frames = 0  # a glitch, or not staying: no body standing there
            else:
                self._jump_frames += 1
                new = self._jump_frames >= BODY_JUMP_FRAMES
                if new:
                    self._jump_frames = 0
        elif math.hypot(x - self._hip_x, y - self._hip_y) > BODY_JUMP_LEGS * leg:
            self._jump_x, self._jump_y, self._jump_frames = x, y, 1
        self._hip_x, self._hip_y = x, y
        return new

    def _stale_ruler(self, leg_sample: float, t: float) -> bool:
        """True once the legs have read short of the ruler for `RULER_STALE_S`, side-on and in frame
        (a NaN sample, legs not seen, breaks the run)."""
        if not (
            self.metrics.in_frame
            and self._side_on
            and leg_sample < RULER_SHORT * (self.thigh_px + self.shin_px)
        ):
            self._short_since = NAN
            return False
        if self._short_since != self._short_since:
            self._short_since = t
        if t - self._short_since < RULER_STALE_S:
            return False
        self._short_since = NAN
        return True

    def _midline(self, xs: Sequence[float], ys: Sequence[float], ws: Sequence[float]) -> None:
        """Confidence-weighted average of each left/right pair, ear to ankle.

        From the side both halves of the body overlap, so this is the visible side, nudged a
        little by MoveNet's guess of the hidden one; from an oblique view it is the body's
        midline, which stays consistent where either single side is half hidden; and it does
        not care when MoveNet swaps left and right between frames. `ws` is each keypoint's weight:
        its score, 0 when it is missing."""
        mx, my, mok = self._mx, self._my, self._mok
        for row, (li, ri) in enumerate(_PAIRS):
            wl, wr = ws[li], ws[ri]
            total = wl + wr
            if total > 0.0:
                mx[row] = (xs[li] * wl + xs[ri] * wr) / total
                my[row] = (ys[li] * wl + ys[ri] * wr) / total
                mok[row] = True
            else:
                mok[row] = False
        # A foot well off the floor (a single-leg move, a step) bears no weight, and neither does an
        # ankle that is no foot on the floor (`SHANK_MAX_DEG`): the leg chain is then the other
        # leg's, not an average with this one.
        (la, ra), (lk, rk) = _PAIRS[MID_ANKLE], _PAIRS[MID_KNEE]
        l_seen, r_seen = ws[la] > 0.0, ws[ra] > 0.0
        self._feet_seen = l_seen or r_seen  # for framing: in view, whether or not they bear weight
        l_ok = l_seen and self._on_floor(xs, ys, ws, la, lk, rk)
        r_ok = r_seen and self._on_floor(xs, ys, ws, ra, rk, lk)
        stand = -1
        if l_ok and r_ok:
            if abs(ys[la] - ys[ra]) > LIFTED_FOOT_LEGS * (self.thigh_px + self.shin_px):
                stand = la if ys[la] > ys[ra] else ra
        elif l_ok and r_seen:
            stand = la
        elif r_ok and l_seen:
            stand = ra
        elif not (l_ok or r_ok):
            mok[MID_ANKLE] = False
        if stand >= 0:
            knee = lk if stand == la else rk
            if ws[knee] > 0.0:
                mx[MID_KNEE], my[MID_KNEE] = xs[knee], ys[knee]
            mx[MID_ANKLE], my[MID_ANKLE] = xs[stand], ys[stand]

    def _on_floor(
        self, xs: Sequence[float], ys: Sequence[float], ws: Sequence[float], ankle: int, knee: int, other: int
    ) -> bool:
        """Whether `ankle` can be a foot bearing weight: under its knee (or the other knee, when its
        own is not seen; see `SHANK_MAX_DEG`). With neither knee seen it cannot be told from a wild
        point, and the feet are remembered instead."""
        if self.drill.kneeling:
            return True
        if not ws[knee] > 0.0:
            knee = other
            if not ws[knee] > 0.0:
                return False
        dx, dy = xs[ankle] - xs[knee], ys[ankle] - ys[knee]
        down = self._cos * dy - self._sin * dx  # along the level picture's vertical
        return down >= _SHANK_MIN_COS * math.hypot(dx, dy)

    def update(self, xs: Sequence[float], ys: Sequence[float], ws: Sequence[float], t: float) -> FrameMetrics:
        """One frame: keypoint x, y and weight (score, 0 when missing) in `BodyPart` order.

        The steps run in order, each on what the one before left: who is there, which side faces
        the camera, the midline, the body's ruler, facing, side-on, framing, then the measures. They
        share the midline lists and `self.metrics` instead of passing points around: the whole
        scoring core keeps about 50 us a frame (`hinge-kiosk bench core`), this part about 8."""
        m = self.metrics
        dt = t - self._t
        if not 0.0 <= dt <= 1.0:  # first frame, a gap, or NaN
            dt = 0.0
        self._t = t
        m.t = t
        m.missing = ""
        m._clear_measures()
        if not self._person(ws, t):
            return m
        m.side = self._follow_side(ws, dt)
        self._midline(xs, ys, ws)
        if self._mok[MID_HIP] and self._watch_body(self._mx[MID_HIP], self._my[MID_HIP], dt):
            self._forget_body()
            m.new_body = True
        thigh_s, shin_s, torso_s = self._follow_ruler(dt)
        thigh, shin, torso = self.thigh_px, self.shin_px, self.torso_px
        if shin != shin:
            shin = thigh  # feet not seen yet: the shank is about as long as the thigh
        m.leg_px = thigh + shin
        m.facing = self._follow_facing(xs, ws, dt, thigh, torso)
        self._follow_side_on(xs, ws, dt, torso)
        m.missing = self._missing(ys, ws)
        m.in_frame = m.missing == ""
        if self._stale_ruler(thigh_s + shin_s, t):  # learn the ruler afresh from this frame
            self.thigh_px, self.shin_px = thigh, shin = thigh_s, shin_s
            if torso_s == torso_s:
                self.torso_px = torso_s
            m.leg_px = thigh + shin
        if self._level:  # from here on, positions against the vertical: a level picture's
            self._level_midline()
        self._place(t, thigh)
        mok = self._mok
        if m.facing != 0 and thigh > 0.0 and mok[MID_SHOULDER] and mok[MID_HIP] and mok[MID_KNEE]:
            self._measure(thigh, shin)
        return m

    def _person(self, ws: Sequence[float], t: float) -> bool:
        """Whether a person is in view (five body points seen); with nobody, the metrics say so and
        keep the last side and facing."""
        m = self.metrics
        seen = 0
        for i in _PERSON_PARTS:
            if ws[i] > 0.0:
                seen += 1
        m.person = seen >= 5
        if m.person:
            self._last_person_t = t
            return True
        if t - self._last_person_t > 2.0:
            # Nobody for a while: the next person may be someone else, facing the other way.
            self._forget_body()
        m.side, m.facing, m.side_on, m.in_frame, m.ready = self._side, self._facing, False, False, False
        m.missing = "body"
        m.leg_px = self.thigh_px + self.shin_px
        return False

    def _follow_side(self, ws: Sequence[float], dt: float) -> Side:
        """Which side faces the camera (for drawing): the one the model is surer of, with
        hysteresis. Measures use the midline and do not depend on it."""
        diff = 0.0
        for row in (MID_EAR, MID_SHOULDER, MID_HIP, MID_KNEE, MID_ANKLE):
            li, ri = _PAIRS[row]
            diff += ws[li] - ws[ri]
        self._side_ema = ema = _follow(self._side_ema, diff, dt, 0.7)
        if self._side is None:
            self._side = Side.LEFT if ema >= 0 else Side.RIGHT
        elif self._side is Side.LEFT and ema < -0.4:
            self._side = Side.RIGHT
        elif self._side is Side.RIGHT and ema > 0.4:
            self._side = Side.LEFT
        return self._side

    def _follow_ruler(self, dt: float) -> tuple[float, float, float]:
        """Follow the segment lengths (the body's own ruler) and return this frame's thigh, shin and
        torso samples (NaN where unseen). Projected lengths only shrink (foreshortening, bent
        joints), so longer samples are followed quickly and shorter ones slowly."""
        _, sx, _, _, hx, kx, ax = self._mx
        _, sy, _, _, hy, ky, ay = self._my
        _, s_ok, _, _, h_ok, k_ok, a_ok = self._mok
        thigh_s = shin_s = torso_s = NAN
        if h_ok and k_ok:
            thigh_s = math.hypot(hx - kx, hy - ky)
            self.thigh_px = _follow(self.thigh_px, thigh_s, dt, 0.3 if thigh_s > self.thigh_px else 8.0)
        if k_ok and a_ok:
            shin_s = math.hypot(kx - ax, ky - ay)
            self.shin_px = _follow(self.shin_px, shin_s, dt, 0.3 if shin_s > self.shin_px else 8.0)
        if s_ok and h_ok:
            torso_s = math.hypot(sx - hx, sy - hy)
            self.torso_px = _follow(self.torso_px, torso_s, dt, 0.3 if torso_s > self.torso_px else 8.0)
        return thigh_s, shin_s, torso_s

    def _follow_facing(
        self, xs: Sequence[float], ws: Sequence[float], dt: float, thigh: float, torso: float
    ) -> int:
        """Which way the person faces, +1 toward +x. The knee only bends forward, so a bent knee lies
        on the front side of the hip-ankle line: that holds from any view and in every drill. A bent
        trunk puts the shoulders ahead of the hips; in a side view the nose is ahead of the ear
        (from the front it is not, so it only breaks ties). Averaged with hysteresis."""
        ex, sx, _, _, hx, kx, ax = self._mx
        _, _, _, _, hy, ky, ay = self._my
        e_ok, s_ok, _, _, h_ok, k_ok, a_ok = self._mok
        leg = self.metrics.leg_px
        vote = 0.0
        if h_ok and k_ok and a_ok and leg > 0.0 and abs(ay - hy) > 0.3 * leg:
            off = kx - (hx + (ax - hx) * (ky - hy) / (ay - hy))
            if abs(off) > 0.06 * leg:
                vote += math.copysign(min(1.0, abs(off) / (0.15 * leg)) * 2.0, off)
        if s_ok and h_ok and abs(sx - hx) > 0.5 * torso:
            vote += 1.0 if sx > hx else -1.0
        nx = xs[_NOSE]
        if ws[_NOSE] > 0.0 and e_ok and abs(nx - ex) > 0.05 * thigh:
            vote += 0.5 if nx > ex else -0.5
        if vote:
            vote = 1.0 if vote > 1.0 else (-1.0 if vote < -1.0 else vote)
            self._facing_ema = _follow(self._facing_ema, vote, dt, 0.6)
            if self._facing == 0 or self._facing * self._facing_ema < -0.3:
                self._facing = 1 if self._facing_ema > 0 else -1
        return self._facing

    def _follow_side_on(self, xs: Sequence[float], ws: Sequence[float], dt: float, torso: float) -> None:
        """Side-on: both shoulders and both hips project close together (averaged, with hysteresis)."""
        ratio = 0.0
        if torso > 0.0:
            for li, ri in _SHOULDERS_AND_HIPS:
                if ws[li] > 0.0 and ws[ri] > 0.0:
                    r = abs(xs[li] - xs[ri]) / torso
                    if r > ratio:
                        ratio = r
        self._ratio_ema = _follow(self._ratio_ema, ratio, dt, 0.4)
        if self._side_on and self._ratio_ema > SIDE_ON_LEAVE:
            self._side_on = False
        elif not self._side_on and self._ratio_ema < SIDE_ON_ENTER:
            self._side_on = True
        self.metrics.side_ratio = self._ratio_ema
        self.metrics.side_on = self._side_on

    def _missing(self, ys: Sequence[float], ws: Sequence[float]) -> str:
        """What framing lacks ("" when nothing): head, hips and feet seen and inside the picture (as
        recorded, before any levelling)."""
        _, sx, _, _, hx, _, ax = self._mx
        ey, sy, _, _, _, ky, ay = self._my
        e_ok, s_ok, _, _, h_ok, k_ok, _ = self._mok
        a_ok = self._feet_seen
        if not ((e_ok or ws[_NOSE] > 0.0) and s_ok):
            return "head"
        if not h_ok:
            return "hips"
        if not (k_ok and a_ok) and not self.drill.kneeling:
            return "feet"
        if self.frame_size is None:
            return ""
        w, h = self.frame_size
        margin = 0.01 * max(w, h)
        if not a_ok:
            ax = hx
        if ay > h - margin or ky > h - margin:
            return "feet"
        if min(ey if e_ok else ys[_NOSE], sy) < margin:
            return "head"
        if min(sx, hx, ax) < margin or max(sx, hx, ax) > w - margin:
            return "sides"
        return ""

    def _place(self, t: float, thigh: float) -> None:
        """Where the body stands: the feet (remembered a while when hidden), the shoulders' height,
        whether it can be measured, and the hands' height."""
        m = self.metrics
        _, s_ok, _, w_ok, h_ok, k_ok, a_ok = self._mok
        _, sy, _, wy, _, ky, ay = self._my
        kneeling = self.drill.kneeling
        if a_ok:
            self._feet_y, self._feet_t = ay, t
        if s_ok and kneeling and k_ok:
            m.height = ky - sy
        elif s_ok and not kneeling and 0.0 <= t - self._feet_t <= FEET_MEMORY_S:
            m.height = self._feet_y - sy
        m.ready = (
            m.in_frame and m.facing != 0 and s_ok and h_ok and k_ok and (a_ok or kneeling) and thigh > 0.0
        )
        if a_ok:
            m.ankle_x, m.ankle_y = self._mx[MID_ANKLE], ay
            # Hands above the floor in knee heights: a height, so it reads the same from any yaw.
            # Hands on a bell on the floor sit near 0.5; between the thighs in a swing, or on a
            # dowel behind the back, well above 1.
            if w_ok and k_ok and ay - ky > 0.2 * m.leg_px:
                m.hand_height = (ay - wy) / (ay - ky)

    def _measure(self, thigh: float, shin: float) -> None:
        """The angles, three-point alignment, head, hip travel, wall and lockout, signed by facing:
        for a body whose shoulders, hips and knees are seen, facing known."""
        m = self.metrics
        f = m.facing
        ex, sx, _, _, hx, kx, ax = self._mx
        ey, sy, _, _, hy, ky, ay = self._my
        e_ok, _, _, _, _, _, a_ok = self._mok
        kneeling = self.drill.kneeling

        trunk = math.atan2(f * (sx - hx), hy - sy) * DEG
        thigh_a = math.atan2(f * (kx - hx), ky - hy) * DEG
        m.trunk_angle = trunk
        m.thigh_angle = thigh_a
        m.hip_flex = hip_flex = trunk + thigh_a
        feet = a_ok and shin > 0.0  # a zero-length shank (knee on the ankle) is a detector glitch
        if feet:
            m.shin_angle = shin_a = math.atan2(f * (kx - ax), ay - ky) * DEG
            m.knee_flex = thigh_a + shin_a
            m.knee_forward = f * (kx - ax) / shin

        # Three-point alignment and head.
        if e_ok:
            lx, ly = ex - hx, ey - hy
            span2 = lx * lx + ly * ly
            if span2 > 0.04 * thigh * thigh:
                # Signed distance of the shoulder from the ear-hip line, + toward the back.
                m.alignment = -f * ((sx - hx) * -ly + (sy - hy) * lx) / span2
                ux, uy = sx - hx, sy - hy
                vx, vy = ex - sx, ey - sy
                m.head_angle = math.atan2(f * (ux * vy - uy * vx), ux * vx + uy * vy) * DEG

        # Hips back: behind the ankles standing, behind the knees kneeling.
        if kneeling:
            m.hip_travel = f * (kx - hx) / thigh
        elif feet:
            m.hip_travel = f * (ax - hx) / thigh
            m.com_forward = self._com_forward(f, ex if e_ok else sx, sx, hx, kx, ax, shin)
        if self.drill.has_wall and feet:
            # Drawn over the picture: the wall's foot, level with the ankle, turned back into it.
            wall_x = ax - f * self._wall_line_thighs * thigh
            m.wall_x = self._cos * wall_x - self._sin * ay if self._level else wall_x
            m.wall_reached = m.hip_travel >= self.wall_thighs
            m.depth = m.hip_travel / self.wall_thighs
        else:
            m.depth = hip_flex / self.drill.depth_deg

        knees_straight = kneeling or not (m.knee_flex >= LOCKOUT_KNEE_DEG)  # unseen knees do not veto
        m.lockout = hip_flex < LOCKOUT_HIP_DEG and abs(trunk) < LOCKOUT_TRUNK_DEG and knees_straight
        m.hyperextended = trunk < -HYPEREXT_DEG and hip_flex < 0.0

    def _level_midline(self) -> None:
        """Turn the midline chain back by the camera's roll (see `Setup`), in place."""
        mx, my, c, s = self._mx, self._my, self._cos, self._sin
        for row in range(len(mx)):
            x, y = mx[row], my[row]
            mx[row] = c * x + s * y
            my[row] = c * y - s * x

    def _com_forward(
        self, f: int, ex: float, sx: float, hx: float, kx: float, ax: float, shin: float
    ) -> float:
        """Centre of mass ahead of the ankle, in foot lengths (see `com_forward`); arms that are
        not seen hang from the shoulder."""
        mx, mok = self._mx, self._mok
        elx = mx[MID_ELBOW] if mok[MID_ELBOW] else sx
        wx = mx[MID_WRIST] if mok[MID_WRIST] else elx
        return com_forward(f, ex, sx, elx, wx, hx, kx, ax, FOOT_PER_SHIN * shin)


def com_forward(
    facing: int,
    ear_x: float,
    shoulder_x: float,
    elbow_x: float,
    wrist_x: float,
    hip_x: float,
    knee_x: float,
    ankle_x: float,
    foot_px: float,
) -> float:
    """Body centre of mass ahead of the ankle, in foot lengths, from a side view.

    The ankle sits about a quarter of the way from heel to toe, so about +0.25 is mid-foot and
    +0.45 the ball of the foot. A load held in front (a bell) is not included: it pulls the body's
    own centre of mass back, which is how a lifter balances it."""
    com = (
        M_HEAD * ear_x
        + M_TRUNK * 0.5 * (shoulder_x + hip_x)
        + M_UPPER_ARMS * (shoulder_x + 0.436 * (elbow_x - shoulder_x))
        + M_FOREARMS * (elbow_x + 0.68 * (wrist_x - elbow_x))
        + M_THIGHS * (hip_x + 0.433 * (knee_x - hip_x))
        + M_SHANKS * (knee_x + 0.433 * (ankle_x - knee_x))
        + M_FEET * (ankle_x + facing * 0.25 * foot_px)
    )
    return facing * (com - ankle_x) / foot_px
