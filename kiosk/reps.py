"""Reps: a state machine over how far the shoulders drop, and the verdict on each finished rep.

A rep is standing -> descending -> bottom -> ascending -> lockout, and counts at lockout. The
drive signal is `drop` (see `kiosk.drills`): the shoulders' height above the feet against its
standing value. It rises in every hinge, swing and squat, needs no side view and no facing, and
does not care when the pose model swaps left and right. The standing height follows the lifter
between reps (quickly up, slowly down) and is frozen during a rep.
What does not count, where the signal can tell:
- shuffles, nods and adjustments: the drop never reaches the drill's `rep_min_drop`;
- keypoint noise: a dip and return quicker than `MIN_REP_S`;
- walking in or out: the feet move (a hinge keeps them planted);
- picking a bell up or setting it down: the bottom is held longer than `max_dwell_s` (or, with
  the hands at hip height, a dowel along the back and nothing picked up, `max_dwell_hands_up_s`);
  a quicker grip or release is told from a paused rep by comparison with the set's other reps
  (`SetUpFilter` live, `split_set_ups` over a recording);
- a change of standing height: a step away from the camera lowers the shoulders' height in
  pixels like a shallow dip that never comes back. Seen from the side, a rep whose lifter stands
  tall again (trunk upright, hips straight) and holds still ends there, at the new standing height;
  from any view, a "rep" whose drop stays put longer than `STILL_PARTWAY_S` (bent over, the
  drill's `max_dwell_s`) is cancelled and the standing height learnt again from where the person
  now is;
- a standing height read too tall (a rough first pose): the lifter's real standing reads as a
  "rep" held still partway down; the rise back to that level is the top of the real rep after it;
- a first rise from a bent start (the track or the person began bent over): no standing before it;
- seen from the side, shoulders that drop while the hips stay straight (a stance change).

Faults need evidence from several frames of the rep, never one noisy frame: each is judged on a
robust statistic (the median) over the part of the rep where it matters, from side-on frames only,
and needs at least `MIN_EVIDENCE_FRAMES` measurable frames there. On real footage the per-frame noise
of the alignment measure is a quarter to half of the gap between a rounded and a flat back; the
median over 10-30 frames shrinks it several-fold.

Pure: `FrameMetrics` and timestamps in, `RepResult`s out. Per frame the counter writes one row
of floats into a preallocated buffer; the verdict, and its allocations, come once per rep.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from kiosk.drills import Drill
from kiosk.metrics import SIDE_ON_LEAVE, FrameMetrics

# The fixed fault vocabulary, in coaching priority order (most important first).
FAULTS: tuple[str, ...] = (
    "rounded_back",
    "squatting",
    "weight_forward",
    "shallow",
    "head_out_of_line",
    "hyperextension",
)
# How screens and reports name them.
FAULT_NAMES: dict[str, str] = {
    "rounded_back": "Rounded back",
    "squatting": "Squatting",
    "weight_forward": "Weight forward",
    "shallow": "Not deep enough",
    "head_out_of_line": "Head out of line",
    "hyperextension": "Leaning back",
}

# Score penalties for each fault, out of 100.
PENALTY: dict[str, int] = {
    "rounded_back": 35,
    "squatting": 25,
    "weight_forward": 15,
    "shallow": 15,
    "head_out_of_line": 10,
    "hyperextension": 15,
}

# Thresholds shared by all drills (see `kiosk.metrics` for the units).
ROUNDED_ALIGNMENT = 0.08  # shoulder 8% of ear-hip length behind the line: about 25 deg of bend
# Neck cranked back, typically to look at the mirror. A lifter keeping the eyes a little ahead reads
# -20 to -25 (a barbell pull from the side, several encodes); looking up at the camera, -34.
HEAD_UP_DEG = -30.0
HEAD_DOWN_DEG = 32.0  # chin dropped toward the chest
COM_OVER_TOES = 0.45  # centre of mass over the ball of the foot (foot lengths ahead of ankle)
KNEES_PAST_TOES = 0.46  # knee ahead of the ankle by the ankle-to-toe distance (shin lengths)
HIPS_NOT_BACK = 0.05  # hips no more than a twentieth of a thigh behind the ankles ...
HIPS_NOT_BACK_TRUNK_DEG = 30.0  # ... while the trunk leans this far forward
MIN_EVIDENCE_FRAMES = 4
JUDGE_SIDE_SHARE = 0.5  # of the rep's working frames, seen side-on, to judge its form
# Form is judged only from frames this close to side-on (the side-on test's own exit threshold).
# Per rep, the real side views read 0.04-0.11 and the 30-45 degree oblique clips 0.38-0.69. Judged
# at 0.38-0.44, the front-oblique good morning read knees bent 120 degrees and a rounded back on
# half its reps: so the limit stays below the obliques rather than in the middle of the gap.
JUDGE_SIDE_RATIO = SIDE_ON_LEAVE
TURN_DROP = 0.03  # the drop must fall this far below its peak to call the bottom
# The bottom of a rep, where squatting, the weight's place and rounding are judged: the shoulders
# within a quarter of the rep's depth of its deepest point.
BOTTOM_SHARE = 0.75
# Back up through this share of the rep's depth and down again: a top the standing height missed.
RISEN_SHARE = 0.75
# Or back up to a level the descent held still at this long before going on down.
PLATEAU_S = 0.3
SETTLE_S = 0.5  # after lockout, watch this long for leaning back before finishing the rep
MAX_REP_S = 20.0  # a "rep" longer than this was something else
# Leaving the top to lockout takes at least this long in any real rep; a quicker dip is keypoint
# noise, not a rep. The quickest real reps are swings: 0.53 s on the shared Russian-swing clip, so
# this leaves a swinger half as fast again, while a jump of the whole upper body lasting 0.2 s (6
# frames at 30 fps, a glitch no hinge can make) still reads too quick once smoothing has spread it.
MIN_REP_S = 0.35
# Seen from the side, a rep bends the hips at least this far (hinges, swings and squats all go
# far beyond); shoulders that drop without it were a stance change or a slouch.
MIN_REP_HIP_FLEX_DEG = 25.0
LOST_S = 0.7  # hips unmeasurable this long in the middle of a rep cancels it
# A drop whose range stays within this is holding still (a rep keeps moving except at the bottom,
# and even a slow one moves through more than this in `STILL_PARTWAY_S`).
STILL_DROP = 0.02
# Not bent over (or not seen from the side), a drop that stays put this long is a new standing
# height: the person stands lower in the picture after a step away from the camera. Bent over, the
# drill's `max_dwell_s` applies instead: a paused rep holds its bottom longer than this.
STILL_PARTWAY_S = 2.5
# Standing tall by posture (locked out, seen from the side: see `metrics.LOCKOUT_HIP_DEG`), held
# still this long. Ends a rep whose shoulders stay below the old standing height (a step away).
TALL_HOLD_S = 0.4
# Hands this many knee heights above the ankles at the bottom of a hinge hold no bell from the floor:
# a dowel along the back keeps them at hip height, about 2; hanging arms or a bell put them at 0.5-1.
# (Standing, hanging arms read about 1.8: only bent-over frames are read this way.)
BENT_HIP_DEG = 45.0
HANDS_UP_KNEES = 1.5
FEET_MOVED_LEGS = 0.35  # ankle travel (leg lengths) during a rep that means the person stepped
FEET_MOVING_LEGS_PER_S = 0.35  # ankle speed that means walking, not hinging
# Feet speed is the gap between a fast and a slow average of the ankle position divided by the
# gap in their time constants: steady walking reads its true speed, while per-frame keypoint
# jitter (several pixels on small, low-resolution lifters) averages out in both.
FEET_FAST_TAU_S, FEET_SLOW_TAU_S = 0.1, 0.5
# Standing means upright: shoulders at least this many leg lengths above the feet (standing
# they are about 1.6 above the ankles; kneeling about 1.1 above the knees). Lying or sitting
# people, and detections of half a body, never start reps.
UPRIGHT_LEGS, UPRIGHT_KNEELING_LEGS = 1.2, 0.75
STAND_UP_TAU_S = 0.25  # the standing height follows a taller reading this fast ...
STAND_DOWN_TAU_S = 4.0  # ... and a shorter one this slowly (the lifter may step back)
# The verdict reads a rep at no more than about 30 rows a second, whatever the camera's rate: a row
# comes at least this long after the one before (every frame at 30 fps, even a USB camera's frames
# arriving 13 ms early; every other one at 60). The frame-count minimums (`MIN_EVIDENCE_FRAMES`, the
# frames of leaning back and of the wall tap, the second-largest peak) were set on 30 fps footage
# and so keep their duration at 60 or 120 fps.
ROW_DT_S = 0.02
BUFFER_ROWS = 1200  # 24 s at one row per `ROW_DT_S`: longer than `MAX_REP_S` at any camera rate

# Why a small dip was not a rep: the most common reason by far (shuffles, nods), not worth reporting.
TOO_SHALLOW = "too shallow to be a rep"
# A dip that bent the hips this far, seen from the side, was a hinge attempt that stopped short (a
# kettlebell lifter not reaching the bell): the coach says so instead of staying silent.
SHALLOW_ATTEMPT_HIP_DEG = 30.0
SHALLOW_HINGE = "a hinge too shallow to count: push the hips further back"
HELD_AT_BOTTOM = "held at the bottom: a set-up or set-down, not a rep"
# Telling a quick pickup or set-down from a rep over a whole recording (see `split_set_ups`). A rep's
# bottom reads held 0.2-0.7 s on the shared clips (touch-and-go swings to dead-stop bell deadlifts);
# gripping or letting go of a bell takes a second of stillness, which reads 1.3 s or more with the
# way down and up near the bottom. Sets of reps whose bottoms vary from 0.05 to 0.6 s (holds up to
# 1.1 s) keep every rep; a set whose every rep pauses is left alone by the ratio.
SET_GAP_S = 10.0  # reps closer than this (one's lockout to the next one's start) are one set
SET_UP_HOLD_S = 1.2
SET_UP_HOLD_RATIO = 1.5
# Putting a bell down and picking it up again takes a pause standing in between; reps follow each
# other within 1-2 s of lockout. Two held movements closer than this are two slow reps.
SET_UP_PAUSE_S = 3.0
HELD_LONGER_THAN_THE_SET = "held at the bottom much longer than the set's reps: a bell picked up or put down"

# Columns of the per-rep buffer.
C_T, C_HIP, C_KNEE, C_TRUNK, C_SHIN, C_THIGH, C_ALIGN, C_HEAD = range(8)
C_TRAVEL, C_COM, C_KNEE_FWD, C_SIDE_RATIO, C_HYPER, C_WALL, C_DROP, C_HANDS = range(8, 16)
N_COLS = 16
_EMPTY_ROW = (math.nan,) * N_COLS


class Phase(Enum):
    """Where the person is in a rep."""

    IDLE = "idle"  # nobody measurable, or not yet seen standing
    STANDING = "standing"
    DESCENDING = "descending"
    ASCENDING = "ascending"
    LOCKOUT = "lockout"  # back at the top; the rep finishes after a short settle


@dataclass(frozen=True)
class RepResult:
    """The verdict on one rep. Times are in the same clock as the frames' timestamps."""

    index: int
    start_s: float
    bottom_s: float
    end_s: float
    score: int
    faults: tuple[str, ...]
    hip_angle_deg: float
    knee_angle_deg: float
    hip_travel: float
    wall_tap: bool | None
    tempo_down_s: float
    tempo_up_s: float
    # False when too few side-on frames were seen to judge form (faults then stay empty).
    judged: bool = True
    hold_s: float = math.nan  # how long the bottom was held (within 85% of the deepest point)
    # The medians behind the verdict, for the display and for tuning.
    evidence: dict[str, float] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Judged and found without faults; a rep seen too obliquely to judge is not called clean."""
        return self.judged and not self.faults

    def as_dict(self) -> dict:
        """The JSON form used by `analyze --json` and the session store."""
        return {
            "index": self.index,
            "start_s": round(self.start_s, 3),
            "bottom_s": round(self.bottom_s, 3),
            "end_s": round(self.end_s, 3),
            "score": self.score,
            "faults": list(self.faults),
            "hip_angle_deg": _round(self.hip_angle_deg, 1),
            "knee_angle_deg": _round(self.knee_angle_deg, 1),
            "hip_travel": _round(self.hip_travel, 3),
            "wall_tap": self.wall_tap,
            "judged": self.judged,
            "tempo_down_s": round(self.tempo_down_s, 2),
            "tempo_up_s": round(self.tempo_up_s, 2),
        }


def split_set_ups(
    reps: Sequence[RepResult], held: Sequence[float] = ()
) -> tuple[list[RepResult], list[RepResult]]:
    """Reps, and the first or last movements of a set that were a bell picked up or put down.

    Live, a bottom held past the drill's `max_dwell_s` is already not a rep, and `SetUpFilter`
    holds back a movement held like a set-up until what follows tells (a quick grab of the bell is
    otherwise the same movement as a rep). Over a whole recording the set shows what its reps look
    like: a pickup opens a set and a set-down closes it, each with a bottom held (gripping, letting go)
    well past the set's own reps. So the first and last movements of a set (reps no further apart
    than `SET_GAP_S`, at least three of them) are set-ups when `held_like_a_set_up`, against the
    median hold of the reps between them. A set has one pickup and one set-down: `held` are the
    times the counter itself already turned a movement away as held at the bottom, and a set with
    one of those just before (after) it keeps its first (last) rep. The reps kept are numbered from
    1 again.
    """
    runs: list[list[RepResult]] = []
    for rep in reps:
        if runs and rep.start_s - runs[-1][-1].end_s <= SET_GAP_S:
            runs[-1].append(rep)
        else:
            runs.append([rep])
    kept: list[RepResult] = []
    set_ups: list[RepResult] = []
    for i, run in enumerate(runs):
        out = set()
        if len(run) >= 3:
            typical = statistics.median(r.hold_s for r in run[1:-1])
            # A movement turned away between two sets belongs to the nearer one.
            start, end = run[0].start_s, run[-1].end_s
            last = i + 1 == len(runs)
            before = max(start - SET_GAP_S, (runs[i - 1][-1].end_s + start) / 2 if i else -math.inf)
            after = min(end + SET_GAP_S, math.inf if last else (end + runs[i + 1][0].start_s) / 2)
            picked = any(before <= t <= start for t in held)
            put = any(end <= t <= after for t in held)
            for k, done in ((0, picked), (len(run) - 1, put)):
                if not done and held_like_a_set_up(run[k], typical):
                    out.add(k)
        for k, rep in enumerate(run):
            (set_ups if k in out else kept).append(rep)
    return [replace(rep, index=n) for n, rep in enumerate(kept, start=1)], set_ups


def held_like_a_set_up(rep: RepResult, typical_hold_s: float = 0.0) -> bool:
    """Whether `rep` held its bottom like a bell being gripped or let go: longer than `SET_UP_HOLD_S`
    and `SET_UP_HOLD_RATIO` x a typical rep's hold (`typical_hold_s`; 0 when not known yet), with the
    hands down where a bell is. Hands held up at the bottom (a dowel along the back) grip nothing:
    a pause there is a paused rep."""
    hands = rep.evidence.get("hand_height", math.nan)
    hands_up = hands >= HANDS_UP_KNEES  # unknown (NaN) hands could be holding a bell
    return not hands_up and rep.hold_s > max(SET_UP_HOLD_S, SET_UP_HOLD_RATIO * typical_hold_s)


class SetUpFilter:
    """Live, which of a session's movements count when any may be a bell picked up or put down.

    The counter turns away a bottom held past the drill's limit; a quicker grip or release of the
    bell reads as a rep. Over a whole recording `split_set_ups` compares each set's ends with its
    other reps; live, a movement `held_like_a_set_up` against the reps counted so far (this set's,
    else the session's) is held back until what comes next tells, given where the bell probably is:
    - on the floor (a new visitor, or after a set-down): the held movement may be the pickup. The
      next rep decides: held 1.5 times as long as that rep, or followed by another movement held
      like a set-up against the session's reps, it was the pickup and is left out; otherwise both
      count. If the session ends first with no rep counted yet, it counts: a lone pull (a heavy
      single) looks the same, and the counter had it as a rep.
    - in the hands: it may be the set-down. A rep after it makes it a slow rep, and it counts; a
      held movement after it, once the lifter has stood for `SET_UP_PAUSE_S`, makes it the set-down
      (left out) and the new one a possible pickup; the session ending first leaves it out.
    Between sets (the rest, the summary), a held movement is the bell put down or picked up: it
    moves the bell and starts nothing (`between_sets`); so does any movement just after a set
    (`put_down`). The rep that completes a set is never held back. A movement the counter itself
    turned away as held at the bottom (`held_at_bottom`) was a set-up too: the bell changes place.

    Pure: reps in, the reps to count out, oldest first.
    """

    def __init__(self, set_size: int = 10) -> None:
        self.new_session()
        self.reset(set_size)

    def new_session(self) -> None:
        """A new visitor: their bell is presumably on the floor, and their reps are not known yet."""
        self.bell_down = True
        self._session_holds: list[float] = []  # bottom holds of the reps counted in this session

    def reset(self, set_size: int) -> None:
        """A new set: anything held back stays out; the bell stays where it was."""
        self.set_size = set_size
        self.held: RepResult | None = None  # the movement held back, if any
        self._maybe_pickup = False  # what `held` may be: the pickup, else the set-down
        self._holds: list[float] = []  # bottom holds of the reps counted in this set

    def offer(self, rep: RepResult) -> list[RepResult]:
        """The counter finished `rep` during a set: the reps to count now (a held-back one this shows
        to be a rep, then `rep` unless it is held back in turn)."""
        out: list[RepResult] = []
        held, self.held = self.held, None
        if held is not None:
            if self._maybe_pickup:
                session = _median_or_zero(self._session_holds)
                if held_like_a_set_up(held, rep.hold_s) or (session and held_like_a_set_up(rep, session)):
                    self.bell_down = False  # the pickup (left out); what follows may put it down
                else:
                    out.append(self._counted(held))
            elif rep.start_s - held.end_s > SET_UP_PAUSE_S and held_like_a_set_up(
                rep, self._typical() or held.hold_s
            ):
                self.bell_down = True  # put down, a pause, held again: this may pick it up
            else:
                out.append(self._counted(held))
        completes = len(self._holds) + 1 >= self.set_size
        if not completes and held_like_a_set_up(rep, self._typical()):
            self.held, self._maybe_pickup = rep, self.bell_down
            return out
        out.append(self._counted(rep))
        return out

    def between_sets(self, rep: RepResult) -> bool:
        """The counter finished `rep` while no set runs: whether it is a rep (that may start the next
        set). Held like a set-up against the session's reps, it put the bell down or picked it up,
        and starts nothing."""
        if held_like_a_set_up(rep, _median_or_zero(self._session_holds)):
            self.bell_down = not self.bell_down
            return False
        self.bell_down = False
        return True

    def put_down(self) -> None:
        """A movement just after a set ended: the bell put down."""
        self.bell_down = True

    def end(self) -> RepResult | None:
        """The session ends: the movement held back if it still counts (a lone possible pickup, see
        the class), else None; nothing stays held."""
        held, self.held = self.held, None
        if held is not None and self._maybe_pickup and not self._session_holds:
            return self._counted(held)
        if held is not None and not self._maybe_pickup:
            self.bell_down = True  # it was the set-down
        return None

    def held_at_bottom(self) -> None:
        """The counter turned a movement away as held at the bottom: the bell changed place. One held
        back just before it was a set-up as well (a set-down and a pickup come in pairs)."""
        if self.held is not None:
            self.held = None
            self.bell_down = not self._maybe_pickup
        self.bell_down = not self.bell_down

    def _typical(self) -> float:
        """The set's typical hold so far, else the session's (0 before any rep)."""
        return _median_or_zero(self._holds) or _median_or_zero(self._session_holds)

    def _counted(self, rep: RepResult) -> RepResult:
        self._holds.append(rep.hold_s)
        self._session_holds.append(rep.hold_s)
        self.bell_down = False  # a rep lifted it
        return rep


def _median_or_zero(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _round(x: float, nd: int) -> float | None:
    return round(x, nd) if math.isfinite(x) else None


Rows = Sequence[Sequence[float]]


def is_knee_dominant(drill: Drill, hip_flex: float, knee_flex: float) -> bool:
    """The knees bending more than the drill allows for the hips' bend: a squat's main sign, and the
    one the coach names live (a squat's other signs peak at the deepest moment and ease on the way
    up, which the rep's verdict sees too; named live, they contradicted it on real pulls)."""
    return hip_flex > 1.0 and knee_flex / hip_flex > drill.squat_ratio


def is_rounded(alignment: float) -> bool:
    """The back rounded: the shoulder behind the ear-hip line by more than `ROUNDED_ALIGNMENT`."""
    return alignment > ROUNDED_ALIGNMENT


def is_head_out_of_line(head_angle: float, rounded: bool) -> bool:
    """Looking up past `HEAD_UP_DEG`, or the chin dropped past `HEAD_DOWN_DEG` on a back that is not
    rounded (on a rounded one the dropped head is part of that fault, already named)."""
    return head_angle < HEAD_UP_DEG or (head_angle > HEAD_DOWN_DEG and not rounded)


def is_squatting(
    drill: Drill, hip_flex: float, knee_flex: float, shin_angle: float, thigh_angle: float
) -> bool:
    """The drill's squat test (see `Drill`) on a rep's bottom medians. An unmeasured angle (NaN)
    tests false."""
    knees_forward = shin_angle > drill.squat_shin_deg and knee_flex > drill.squat_knee_deg
    hips_down = thigh_angle > 90.0 - drill.squat_thigh_deg
    too_much_knee = knee_flex > drill.max_knee_deg
    return is_knee_dominant(drill, hip_flex, knee_flex) or knees_forward or hips_down or too_much_knee


def is_weight_forward(
    com_forward: float, knee_forward: float, hip_travel: float, trunk_angle: float, squatting: bool
) -> bool:
    """Weight on the toes: the centre of mass over the ball of the foot, the knees past the toes
    (part of a squat when it is one, so not counted twice), or the hips not behind the ankles while
    the trunk leans forward. An unmeasured value (NaN) tests false."""
    hips_not_back = hip_travel < HIPS_NOT_BACK and trunk_angle > HIPS_NOT_BACK_TRUNK_DEG
    knees_past_toes = knee_forward > KNEES_PAST_TOES and not squatting
    return com_forward > COM_OVER_TOES or knees_past_toes or hips_not_back


def _median(rows: Rows, col: int) -> tuple[float, int]:
    """Median of the column's measured (non-NaN) values, and how many there were.

    Plain Python over the rep's rows: on the hundred-odd rows of a rep it is about four times
    quicker than numpy, whose fixed cost per call dominates arrays this small, and a rep's verdict
    is the engine's costliest frame, the one that sets its 99th-percentile time."""
    values = sorted([x for row in rows if (x := row[col]) == x])
    n = len(values)
    if n == 0:
        return math.nan, 0
    half = n // 2
    return (values[half] if n % 2 else 0.5 * (values[half - 1] + values[half])), n


def _robust_max(rows: Rows, col: int) -> float:
    """The second-largest measured value: one outlier frame cannot set a peak."""
    values = sorted([x for row in rows if (x := row[col]) == x])
    if not values:
        return math.nan
    return values[-2] if len(values) > 1 else values[0]


def _standing_tall(m: FrameMetrics) -> bool:
    """Locked out, seen from the side (False when not measurable): from an oblique view the angles
    are foreshortened and a bent lifter can read straight."""
    return m.side_ratio < JUDGE_SIDE_RATIO and m.lockout


def _ramp(value: float, start: float, end: float) -> float:
    """0 at `start`, 1 at `end` (either direction), clipped; 0 for NaN."""
    if not math.isfinite(value) or end == start:
        return 0.0
    return min(1.0, max(0.0, (value - start) / (end - start)))


class RepCounter:
    """Counts reps and judges each one; feed it every frame's metrics in time order."""

    def __init__(self, drill: Drill, wall_thighs: float = math.nan) -> None:
        self.drill = drill
        self.wall_thighs = wall_thighs
        # The current rep's frames, one preallocated row of floats each.
        self._rows = [list(_EMPTY_ROW) for _ in range(BUFFER_ROWS)]
        self._written = 0  # rows holding values since they were last cleared
        self.reset()

    def reset(self) -> None:
        self.phase = Phase.IDLE
        self.count = 0
        self.drop = math.nan  # this frame's drop (NaN when shoulders or feet are unseen)
        self._stand_h = math.nan
        self._n = 0
        self._peak = 0.0
        self._peak_t = math.nan
        self._start_t = math.nan
        self._lockout_t = math.nan
        self._valley, self._valley_t, self._valley_h = math.inf, math.nan, math.nan  # top of the ascent
        self._plateau = math.inf  # shallowest drop held still on the way down before going deeper
        self._last_low_t = math.nan
        self._lost_since = math.nan
        self._still_lo = self._still_hi = math.nan  # range of the drop since `_still_since`
        self._still_since = math.nan
        self._tall_since = self._tall_h = math.nan  # standing tall below the standing height (see update)
        self._ankle0 = math.nan
        self._feet_fast_x = self._feet_fast_y = math.nan
        self._feet_slow_x = self._feet_slow_y = math.nan
        self._feet_speed = 0.0
        self._t = math.nan
        self.dropped = ""

    @property
    def feet_moving(self) -> bool:
        return self._feet_speed > FEET_MOVING_LEGS_PER_S

    @property
    def in_rep(self) -> bool:
        return self.phase in (Phase.DESCENDING, Phase.ASCENDING, Phase.LOCKOUT)

    def update(self, m: FrameMetrics) -> RepResult | None:
        """Advance one frame; return the rep that finished on this frame, if any. When a movement
        that got under way is not counted, `dropped` says why, on that frame only."""
        self.dropped = ""
        t = m.t
        dt = t - self._t if math.isfinite(self._t) else 0.0
        if dt < 0.0:
            # Time went backwards (the source restarted or changed clocks): a rep under way cannot
            # be timed, and the smoothed heights and feet belong to another time line. A rep that
            # already reached lockout is complete: it counts.
            finished = self._finish() if self.phase is Phase.LOCKOUT else None
            self._forget_position("time went backwards" if self.in_rep else "")
            if finished is not None:
                self._t = t
                return finished
            dt = 0.0
        self._t = t
        if m.new_body:  # the model found someone else: their standing height is not this one's
            self._forget_position("another person came into view")
        self._track_feet(m, dt)
        drop = self.drop = self._follow_standing_height(m.height, dt)
        if not math.isfinite(drop):
            return self._unmeasured(m, t)
        self._lost_since = math.nan
        if self.phase in (Phase.IDLE, Phase.STANDING):
            self._between_reps(m, drop, t)
            return None
        return self._in_rep(m, drop, t)

    def _follow_standing_height(self, h: float, dt: float) -> float:
        """Follow the standing height between reps; the drop below it (NaN when not measurable)."""
        if math.isfinite(h) and h > 0 and not self.in_rep:
            if not math.isfinite(self._stand_h):
                self._stand_h = h
            else:
                tau = STAND_UP_TAU_S if h > self._stand_h else STAND_DOWN_TAU_S
                self._stand_h += (h - self._stand_h) * dt / (tau + dt)
        return 1.0 - h / self._stand_h if math.isfinite(h) and self._stand_h > 0 else math.nan

    def _unmeasured(self, m: FrameMetrics, t: float) -> RepResult | None:
        """A frame without a height: a rep under way survives `LOST_S` of them (one at lockout then
        counts); nobody in view between reps forgets the standing height."""
        if self.in_rep:
            if not math.isfinite(self._lost_since):
                self._lost_since = t
            elif t - self._lost_since > LOST_S:
                if self.phase is Phase.LOCKOUT:
                    return self._finish()
                self._cancel("lost sight of the lifter")
        elif not m.person:
            self.phase = Phase.IDLE
            self._stand_h = math.nan
        return None

    def _between_reps(self, m: FrameMetrics, drop: float, t: float) -> None:
        """Idle or standing: watch for an upright lifter at the top, and for the drop that begins a rep."""
        d = self.drill
        h = m.height
        upright = h >= (UPRIGHT_KNEELING_LEGS if d.kneeling else UPRIGHT_LEGS) * m.leg_px
        if self._stood_tall(m, h, t) and upright and drop > d.lockout_drop:
            # Standing tall and still, yet below the standing height learnt: that height was
            # someone else's (a taller passer-by the model followed) or from before a step back.
            # Waiting for it to decay would lose the next rep; the posture says where the top is.
            self._stand_h = h
            drop = self.drop = 0.0
        if not upright:
            self.phase = Phase.IDLE
        elif drop <= d.lockout_drop:
            self.phase = Phase.STANDING
            if drop <= 0.5 * d.lockout_drop:
                self._last_low_t = t
        if self.phase is Phase.STANDING and drop > d.start_drop and not self.feet_moving:
            self._begin(m, drop)

    def _in_rep(self, m: FrameMetrics, drop: float, t: float) -> RepResult | None:
        """A frame of a movement under way: recorded, then checked for what ends it (too long, held
        still, a step), and moved through descending, ascending and lockout."""
        d = self.drill
        self._record(m, drop)
        if t - self._start_t > MAX_REP_S:
            self._cancel("too long for a rep")
            return None
        if self._held_still(m, drop, t):
            return None
        moved = abs(m.ankle_x - self._ankle0)  # NaN when either is unknown: compares False
        if m.leg_px > 0 and moved > FEET_MOVED_LEGS * m.leg_px:
            self._cancel("stepped")
            return None

        if self.phase is Phase.LOCKOUT:
            if drop > d.start_drop:
                rep = self._finish()
                self._begin(m, drop)
                return rep
            if t - self._lockout_t >= SETTLE_S:
                return self._finish()
            return None

        if drop > self._peak:
            self._peak, self._peak_t = drop, t
            self.phase = Phase.DESCENDING
        if self.phase is Phase.DESCENDING:
            if self._peak >= d.rep_min_drop and drop < self._peak - TURN_DROP:
                self.phase = Phase.ASCENDING
                self._valley = math.inf
            elif self._peak < d.rep_min_drop and drop < d.start_drop - 0.02:
                self._cancel(SHALLOW_HINGE if self._hips_bent(SHALLOW_ATTEMPT_HIP_DEG) else TOO_SHALLOW)
                self.phase = Phase.STANDING
                return None
        if self.phase is Phase.ASCENDING:
            return self._ascending(m, drop, t)
        return None

    def _held_still(self, m: FrameMetrics, drop: float, t: float) -> bool:
        """Follow how long the drop has stayed put; True when it stayed put too long for a rep and the
        standing height is learnt again from here."""
        lo, hi = min(self._still_lo, drop), max(self._still_hi, drop)
        if not hi - lo <= STILL_DROP:  # moving (or the first frame: NaN)
            held = t - self._still_since >= PLATEAU_S
            if self.phase is Phase.DESCENDING and drop > self._still_hi and held:
                # Held still, then on down (see `_ascending`). The shallowest such level is kept:
                # keypoint noise through a long pause at the bottom reads as more of them, just above
                # the peak.
                self._plateau = min(self._plateau, self._still_hi)
            self._still_lo = self._still_hi = drop
            self._still_since = t
        else:
            self._still_lo, self._still_hi = lo, hi
        # Bent over (seen from the side), the hands show whether a bell is in them; standing,
        # hanging arms read as high as a dowel, so there they say nothing.
        limit = self._dwell_limit(m.hand_height) if m.hip_flex >= BENT_HIP_DEG else STILL_PARTWAY_S
        if self.phase is Phase.LOCKOUT or not t - self._still_since > limit:  # NaN: not held
            return False
        # Holding still: at the bottom, a set-up (a bell picked up or put down); partway, the
        # person now stands lower in the picture (a step away from the camera). Either way, learn
        # the standing height again from here.
        deep = self._peak >= self.drill.rep_min_drop
        self._forget_position(HELD_AT_BOTTOM if deep else "stood still partway down: a step, not a rep")
        return True

    def _ascending(self, m: FrameMetrics, drop: float, t: float) -> RepResult | None:
        """On the way up: find the top, at the standing height (lockout) or short of it."""
        d = self.drill
        h = m.height
        if drop > d.lockout_drop and t - self._still_since >= TALL_HOLD_S and _standing_tall(m):
            # Standing tall and still, yet lower in the picture than before: the lifter stepped
            # away from the camera during the rep. The top is here, at the new standing height.
            self._stand_h = h
            drop = self.drop = 0.0
        if drop < self._valley:
            self._valley, self._valley_t, self._valley_h = drop, t, h
        # A top at the standing height is a lockout, watched for leaning back (`_in_rep`).
        # Back up to where the descent stood still before going deeper is a top as well: the
        # standing height was read too tall, and the lifter stood there (below it) to begin.
        # A level held still counts only if the descent then went a rep's depth deeper: a
        # pause at the bottom, read through noise as stillness and going on down, is no top.
        plateau = self._plateau if self._peak - self._plateau >= d.rep_min_drop else -math.inf
        top = max((1.0 - RISEN_SHARE) * self._peak, plateau + TURN_DROP)
        risen = d.lockout_drop < self._valley <= top
        if risen and (drop > self._valley + TURN_DROP or t - self._still_since >= TALL_HOLD_S):
            # Up through most of the rep's depth, then down again or still, short of the
            # standing height: that height was read too tall (a rough first pose, a passer-by)
            # or the lifter stops just short of it. Either way this was the top; from an oblique
            # view no posture could say so and the rest of the set would be lost.
            self._lockout_t = self._reached(self._valley + STILL_DROP)
            self._stand_h = self._valley_h
            rep = self._finish()
            drop = self.drop = 1.0 - h / self._stand_h
            if drop > d.start_drop:
                self._begin(m, drop)
            return rep
        if drop <= d.lockout_drop:
            if t - self._start_t < MIN_REP_S:
                self._cancel("too quick to be a rep")
                self.phase = Phase.STANDING
                return None
            self.phase = Phase.LOCKOUT
            self._lockout_t = t
        return None

    # -- internals ---------------------------------------------------------------------------

    def _track_feet(self, m: FrameMetrics, dt: float) -> None:
        x, y = m.ankle_x, m.ankle_y
        if not (x == x and y == y and m.leg_px > 0):  # NaN-safe: unknown feet keep their state
            return
        if self._feet_fast_x != self._feet_fast_x or dt <= 0:
            self._feet_fast_x = self._feet_slow_x = x
            self._feet_fast_y = self._feet_slow_y = y
            return
        a_fast = dt / (FEET_FAST_TAU_S + dt)
        a_slow = dt / (FEET_SLOW_TAU_S + dt)
        self._feet_fast_x += a_fast * (x - self._feet_fast_x)
        self._feet_fast_y += a_fast * (y - self._feet_fast_y)
        self._feet_slow_x += a_slow * (x - self._feet_slow_x)
        self._feet_slow_y += a_slow * (y - self._feet_slow_y)
        gap = math.hypot(self._feet_fast_x - self._feet_slow_x, self._feet_fast_y - self._feet_slow_y)
        self._feet_speed = gap / (FEET_SLOW_TAU_S - FEET_FAST_TAU_S) / m.leg_px

    def _begin(self, m: FrameMetrics, drop: float) -> None:
        # Forget the last rep's values: rows a shorter rep leaves unwritten would otherwise keep the
        # floats of the longest rep so far alive.
        for row in self._rows[: self._written]:
            row[:] = _EMPTY_ROW
        self._written = 0
        self.phase = Phase.DESCENDING
        self._n = 0
        self._peak = drop
        self._peak_t = m.t
        self._still_lo = self._still_hi = drop
        self._still_since = m.t
        self._start_t = self._last_low_t if math.isfinite(self._last_low_t) else m.t
        self._ankle0 = m.ankle_x
        self._plateau = math.inf
        self._lockout_t = math.nan
        self._record(m, drop)

    def _record(self, m: FrameMetrics, drop: float) -> None:
        if self._n >= BUFFER_ROWS or (self._n and m.t - self._rows[self._n - 1][C_T] < ROW_DT_S):
            return
        row = self._rows[self._n]
        row[C_T] = m.t
        row[C_HIP] = m.hip_flex
        row[C_KNEE] = m.knee_flex
        row[C_TRUNK] = m.trunk_angle
        row[C_SHIN] = m.shin_angle
        row[C_THIGH] = m.thigh_angle
        row[C_ALIGN] = m.alignment
        row[C_HEAD] = m.head_angle
        row[C_TRAVEL] = m.hip_travel
        row[C_COM] = m.com_forward
        row[C_KNEE_FWD] = m.knee_forward
        row[C_SIDE_RATIO] = m.side_ratio
        row[C_HYPER] = 1.0 if m.hyperextended else 0.0
        row[C_WALL] = 1.0 if m.wall_reached else 0.0
        row[C_DROP] = drop
        row[C_HANDS] = m.hand_height
        self._n += 1
        if self._n > self._written:
            self._written = self._n

    def _reached(self, drop: float) -> float:
        """When the rise since the bottom first came back up to `drop`: standing still at the top,
        keypoint noise keeps setting new lows that are not the moment the lifter got there."""
        for row in self._rows[: self._n]:
            if row[C_T] > self._peak_t and row[C_DROP] <= drop:
                return row[C_T]
        return self._valley_t

    def _dwell_limit(self, hand_height: float) -> float:
        """How long a bottom may be held and still be a rep: longer with the hands up (no bell)."""
        d = self.drill
        return d.max_dwell_hands_up_s if hand_height >= HANDS_UP_KNEES else d.max_dwell_s

    def _hips_bent(self, degrees: float) -> bool | None:
        """Whether the buffered movement bent the hips `degrees` or more, seen from the side in its
        deeper half; None when too few such frames were seen to tell (once per movement, not per
        frame). From an oblique camera a few frames pass the side-on test by chance; if only frames
        near the top did, they would reject a full rep."""
        deep = 0.5 * self._peak
        side_view = [
            row
            for row in self._rows[: self._n]
            if row[C_SIDE_RATIO] < JUDGE_SIDE_RATIO and row[C_DROP] >= deep
        ]
        top = _robust_max(side_view, C_HIP) if len(side_view) >= MIN_EVIDENCE_FRAMES else math.nan
        return None if math.isnan(top) else top >= degrees

    def _stood_tall(self, m: FrameMetrics, h: float, t: float) -> bool:
        """Whether the lifter has stood tall (by posture, from the side) and still for `TALL_HOLD_S`."""
        tall = _standing_tall(m)
        if not (tall and abs(h - self._tall_h) <= STILL_DROP * h):  # NaN: not yet
            self._tall_since, self._tall_h = (t, h) if tall else (math.nan, math.nan)
            return False
        return t - self._tall_since >= TALL_HOLD_S

    def _forget_position(self, why: str) -> None:
        """Cancel any rep under way (saying `why`) and learn standing height and feet afresh."""
        if self.in_rep:
            self._cancel(why)
        self.phase = Phase.IDLE
        self._stand_h = math.nan
        self._feet_fast_x = self._feet_fast_y = math.nan
        self._feet_slow_x = self._feet_slow_y = math.nan
        self._feet_speed = 0.0

    def _cancel(self, why: str) -> None:
        self.dropped = why
        self.phase = Phase.IDLE
        self._n = 0
        self._last_low_t = math.nan

    def finish(self) -> RepResult | None:
        """End of input: a rep waiting out its settle time at the top finishes now."""
        self.dropped = ""
        if self.phase is Phase.LOCKOUT:
            return self._finish()
        return None

    def _finish(self) -> RepResult | None:
        """Judge the buffered rep; None when it turns out not to be a rep (a set-up)."""
        rows = self._rows[: self._n]
        self.phase = Phase.STANDING
        self._last_low_t = self._t
        frame_dt = (rows[-1][C_T] - rows[0][C_T]) / (len(rows) - 1) if len(rows) > 1 else 0.0
        near = max(self.drill.rep_min_drop, 0.85 * self._peak)
        bottom = [row for row in rows if row[C_DROP] >= near]
        hold_s = len(bottom) * frame_dt
        if hold_s > self._dwell_limit(_median(bottom, C_HANDS)[0]):
            self.dropped = HELD_AT_BOTTOM
            return None
        if self._hips_bent(MIN_REP_HIP_FLEX_DEG) is False:
            self.dropped = "the hips did not bend: not a rep"
            return None
        self.count += 1
        return judge_rep(
            self.drill,
            rows,
            index=self.count,
            start_s=self._start_t,
            bottom_s=self._peak_t,
            end_s=self._lockout_t,
            peak_drop=self._peak,
            wall_thighs=self.wall_thighs,
            hold_s=hold_s,
        )


def judge_rep(
    drill: Drill,
    rows: Rows,
    *,
    index: int,
    start_s: float,
    bottom_s: float,
    end_s: float,
    peak_drop: float,
    wall_thighs: float,
    hold_s: float = math.nan,
) -> RepResult:
    """Faults and score of one rep from its per-frame rows (see the C_* columns)."""
    # Form is judged from frames seen from the side: within about 22 degrees of side-on, angles in
    # the body's plane are foreshortened by under 7%.
    side_on = [row for row in rows if row[C_SIDE_RATIO] < JUDGE_SIDE_RATIO]
    bottom = [row for row in side_on if row[C_DROP] >= BOTTOM_SHARE * peak_drop]
    low = max(drill.start_drop, 0.4 * peak_drop)
    moving = [row for row in rows if row[C_DROP] >= low and row[C_T] < end_s - 0.1]
    working = [row for row in moving if row[C_SIDE_RATIO] < JUDGE_SIDE_RATIO]
    after_lockout = [row for row in rows if row[C_T] >= end_s - 0.1]
    # Mostly seen from the side, and enough of it: from an oblique camera a few frames pass the
    # side-on test by chance (12-28% of a rep's, on a real 30-45 degree clip turned by 5 degrees).
    judged = len(working) >= max(MIN_EVIDENCE_FRAMES, JUDGE_SIDE_SHARE * len(moving))

    ev, seen = _evidence(rows, side_on, bottom, working, peak_drop)
    faults, soft = _form_faults(drill, ev, seen) if judged else (set(), 0.0)

    # Depth: the wall (where the drill has one) and hip flexion, both from the side view.
    travel_max = _robust_max(rows, C_TRAVEL)
    wall_tap: bool | None = None
    if drill.has_wall:
        wall_tap = sum(1 for row in rows if row[C_WALL] > 0.5) >= 2
        soft += 8 * (1.0 - _ramp(travel_max, 0.7 * wall_thighs, wall_thighs))
    deepest_flex = _robust_max(side_on, C_HIP)
    hips_back = travel_max >= drill.depth_travel if drill.depth_travel > 0 else True
    if judged and (wall_tap is False or deepest_flex < drill.depth_deg or not hips_back):
        faults.add("shallow")
    if judged and sum(1 for row in after_lockout if row[C_HYPER] > 0.5) >= 3:
        faults.add("hyperextension")

    ordered = tuple(f for f in FAULTS if f in faults)
    penalty = sum(PENALTY[f] for f in ordered) + soft
    score = round(max(0.0, min(100.0, 100.0 - penalty)))
    hip_bottom, knee_bottom = ev["hip_flex"], ev["knee_flex"]
    return RepResult(
        index=index,
        start_s=float(start_s),
        bottom_s=float(bottom_s),
        end_s=float(end_s),
        score=score,
        faults=ordered,
        hip_angle_deg=180.0 - hip_bottom,
        knee_angle_deg=180.0 - knee_bottom,
        hip_travel=travel_max,
        wall_tap=wall_tap,
        tempo_down_s=float(bottom_s - start_s),
        tempo_up_s=float(end_s - bottom_s),
        judged=judged,
        hold_s=float(hold_s),
        evidence=ev,
    )


def _evidence(
    rows: Rows, side_on: Rows, bottom: Rows, working: Rows, peak_drop: float
) -> tuple[dict[str, float], dict[str, int]]:
    """The medians a verdict rests on, and how many frames measured each of those it tests."""
    ev: dict[str, float] = {}
    seen: dict[str, int] = {}
    # Rounding shows most at the bottom, under the most load: judge it there when the bottom was
    # seen in enough frames, else over the whole working part of the rep.
    ev["alignment"], seen["alignment"] = _median(bottom, C_ALIGN)
    if seen["alignment"] < MIN_EVIDENCE_FRAMES:
        ev["alignment"], seen["alignment"] = _median(working, C_ALIGN)
    ev["head_angle"], seen["head_angle"] = _median(working, C_HEAD)
    ev["hip_flex"], _ = _median(bottom, C_HIP)
    ev["knee_flex"], seen["knee_flex"] = _median(bottom, C_KNEE)
    ev["shin_angle"], seen["shin_angle"] = _median(bottom, C_SHIN)
    ev["thigh_angle"], _ = _median(bottom, C_THIGH)
    ev["com_forward"], seen["com_forward"] = _median(bottom, C_COM)
    ev["knee_forward"], _ = _median(bottom, C_KNEE_FWD)
    ev["hip_travel"], seen["hip_travel"] = _median(bottom, C_TRAVEL)
    ev["trunk_angle"], _ = _median(bottom, C_TRUNK)
    # Where the hands were at the bottom, from any view (a height): tells a bell from the floor.
    ev["hand_height"], _ = _median([row for row in rows if row[C_DROP] >= BOTTOM_SHARE * peak_drop], C_HANDS)
    ev["side_on"] = len(side_on) / len(rows) if rows else 0.0
    ev["side_ratio"], _ = _median(rows, C_SIDE_RATIO)
    ev["knee_hip_ratio"] = ev["knee_flex"] / ev["hip_flex"] if ev["hip_flex"] > 1.0 else math.nan
    return ev, seen


def _form_faults(drill: Drill, ev: dict[str, float], seen: dict[str, int]) -> tuple[set[str], float]:
    """The form faults of a rep judged from the side, and the partial penalty for measures near, but
    inside, their limits. A measure seen in too few frames names no fault."""
    faults: set[str] = set()
    soft = 0.0
    if seen["alignment"] >= MIN_EVIDENCE_FRAMES:
        if is_rounded(ev["alignment"]):
            faults.add("rounded_back")
        soft += 10 * _ramp(ev["alignment"], 0.5 * ROUNDED_ALIGNMENT, ROUNDED_ALIGNMENT)
    if seen["head_angle"] >= MIN_EVIDENCE_FRAMES:
        if is_head_out_of_line(ev["head_angle"], "rounded_back" in faults):
            faults.add("head_out_of_line")
        soft += 5 * _ramp(ev["head_angle"], 0.6 * HEAD_UP_DEG, HEAD_UP_DEG)
    if not drill.kneeling and min(seen["knee_flex"], seen["shin_angle"]) >= MIN_EVIDENCE_FRAMES:
        if is_squatting(drill, ev["hip_flex"], ev["knee_flex"], ev["shin_angle"], ev["thigh_angle"]):
            faults.add("squatting")
        soft += 10 * _ramp(ev["knee_hip_ratio"], 0.7 * drill.squat_ratio, drill.squat_ratio)
    if not drill.kneeling and seen["com_forward"] >= MIN_EVIDENCE_FRAMES:
        travel = ev["hip_travel"] if seen["hip_travel"] >= MIN_EVIDENCE_FRAMES else math.nan
        squatting = "squatting" in faults
        if is_weight_forward(ev["com_forward"], ev["knee_forward"], travel, ev["trunk_angle"], squatting):
            faults.add("weight_forward")
        soft += 5 * _ramp(ev["com_forward"], 0.3, COM_OVER_TOES)
    return faults, soft
