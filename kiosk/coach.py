"""The coach: at most one cue at a time, chosen by priority, steady enough to read and hear.

During a rep the head stays in line with the spine, so the person cannot look at the screen:
sound carries the cue then, and the screen shows the detail between reps. So the coach
- names a fault while it happens (after it has lasted `ONSET_S`), not on one noisy frame, and
  only once it has held for most of the part of the rep its verdict looks at so far: the rep's
  verdict takes medians (the head's over the whole movement, the back's, the knees' and the
  weight's over the bottom), and a cue the verdict then contradicts (a head in line passing the
  limit for a moment, knees bending first on the way down) teaches the wrong thing;
- keeps a cue on screen at least `MIN_HOLD_S` unless something more important comes up;
- speaks a cue when it becomes current, never the same cue again within `REPEAT_S` and
  nothing within `MIN_AUDIO_GAP_S` of the last sound; a fault that came up while the last sound
  was too recent is said once the gap has passed, if it still holds, since a lifter with the head
  down never sees it on the screen;
- names the rep's main fault when a rep finishes (unless it was spoken during the rep),
  or praises a clean rep.

Pure: metrics, the rep phase, finished reps and time in; the cue to show and the cue to say out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kiosk.drills import DEFAULT_DRILL, DRILLS, Drill
from kiosk.metrics import FrameMetrics
from kiosk.reps import (
    BOTTOM_SHARE,
    HEAD_UP_DEG,
    MIN_REP_HIP_FLEX_DEG,
    ROUNDED_ALIGNMENT,
    SHALLOW_HINGE,
    Phase,
    RepResult,
    is_knee_dominant,
    is_weight_forward,
)


@dataclass(frozen=True)
class Cue:
    """A coaching message. `id` names its audio file and is stable across versions."""

    id: str
    text: str  # on screen, large type, readable from three metres
    spoken: str  # what the audio says: short, because the person is mid-rep
    kind: str  # "placement" | "form" | "praise"
    priority: int


CUES: dict[str, Cue] = {
    c.id: c
    for c in (
        Cue("turn_sideways", "Turn side-on to the mirror", "Turn sideways", "placement", 100),
        Cue("step_back", "Step back: head to feet in view", "Step back", "placement", 100),
        Cue("stand_tall", "Stand tall to start", "Stand tall to start", "placement", 90),
        Cue("rounded_back", "Flat back: head, upper back, hips in one line", "Flat back", "form", 60),
        Cue("squatting", "Hips back, not down: keep shins vertical", "Hips back, not down", "form", 58),
        Cue("weight_forward", "Weight in your heels, not your toes", "Weight in your heels", "form", 56),
        Cue("head_out_of_line", "Head in line with your back", "Head in line", "form", 54),
        Cue("hyperextension", "Finish tall: squeeze glutes, don't lean back", "Don't lean back", "form", 52),
        Cue("shallow", "Push your hips further back", "Hips further back", "form", 50),
        Cue("good_rep", "Good rep!", "Good rep", "praise", 20),
        Cue("wall_tap", "Wall tap! Now drive the hips forward", "Nice depth", "praise", 20),
    )
}


MAX_FRAME_GAP_S = 0.1  # a longer gap between frames counts as this much time (a stalled camera)
# Until a rep has reached its bottom, its depth is expected to be at least this share of the last
# rep's (the reps of a set vary by about a tenth), so the way down is not taken for the bottom.
EXPECTED_DEPTH_SHARE = 0.8


# The faults named while they happen, in priority order (the others are named when the rep ends).
LIVE_FAULTS = ("rounded_back", "squatting", "weight_forward", "head_out_of_line")


class _Share:
    """Seconds of a rep's frames where a fault was measurable, and of those where it held."""

    __slots__ = ("bad_s", "seen_s")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.seen_s = self.bad_s = 0.0

    def add(self, dt: float, bad: bool) -> None:
        self.seen_s += dt
        self.bad_s += dt if bad else 0.0

    def most(self) -> bool:
        """Held for more of the time than not: what a median over those frames would say."""
        return 2.0 * self.bad_s > self.seen_s


# Timing (seconds). A condition shows once it has held `ONSET_S` (never on one noisy frame); a cue
# stays up `MIN_HOLD_S` unless a more important one comes; a form cue nothing asserts any more fades
# `SHOW_S` after it came up; the same cue is not said twice within `REPEAT_S`, nor anything within
# `MIN_AUDIO_GAP_S` of the last sound (the kiosk's `audio.min_cue_interval_s`, whose default this is).
ONSET_S, MIN_HOLD_S, SHOW_S, REPEAT_S = 0.35, 1.5, 3.0, 8.0
# The hips at the wall is a touch, not a position held: three frames at 30 fps say it is not one
# noisy frame (a rep's verdict asks two), where `ONSET_S` would miss a quick tap.
WALL_TAP_S = 0.07
MIN_AUDIO_GAP_S = 2.0


class Coach:
    """Decides the current cue (`cue`) and, on the frame a cue should be said, `speak`."""

    def __init__(self, drill: Drill | None = None, *, min_audio_gap_s: float = MIN_AUDIO_GAP_S) -> None:
        self.min_audio_gap_s = min_audio_gap_s
        self.drill = drill or DRILLS[DEFAULT_DRILL]
        self._shares = {key: _Share() for key in LIVE_FAULTS}
        self.reset()

    def reset(self) -> None:
        self.cue: Cue | None = None
        self.speak: Cue | None = None
        self._cue_since = -math.inf
        self._cue_asserted_t = -math.inf
        self._last_audio_t = -math.inf
        self._last_said: dict[str, float] = {}
        # Condition -> time it started holding (NaN while it does not hold). Every key exists
        # from the start, so the per-frame updates never grow the dict.
        self._onset: dict[str, float] = {key: math.nan for key in CUES}
        self._spoken_this_rep: set[str] = set()  # form cues heard during the current rep
        for share in self._shares.values():
            share.clear()
        self._last_t = math.nan
        self._peak_drop = 0.0  # deepest shoulder drop of the movement under way
        self._last_peak_drop = 0.0  # ... and of the movement before

    def _holding(self, key: str, active: bool, t: float, onset_s: float = ONSET_S) -> bool:
        """True once `active` has held for `onset_s`."""
        onset = self._onset
        if not active:
            onset[key] = math.nan
            return False
        start = onset[key]
        if start != start:  # NaN: starts holding now
            onset[key] = start = t
        return t - start >= onset_s

    def update(
        self,
        m: FrameMetrics,
        phase: Phase,
        rep: RepResult | None,
        t: float,
        dropped: str = "",
        drop: float = math.nan,
    ) -> None:
        """One frame: its metrics, the rep phase, the rep that finished on it (if any), why a
        movement under way was not counted (`RepCounter.dropped`, on that frame only) and how far
        the shoulders are below standing height (`RepCounter.drop`), which places the bottom."""
        self.speak = None
        wanted: Cue | None = None

        # Placement first: nothing else is worth saying if the mirror cannot judge.
        if m.person:
            if self._holding("step_back", not m.in_frame, t):
                wanted = CUES["step_back"]
            elif self._holding("turn_sideways", m.in_frame and not m.side_on, t):
                wanted = CUES["turn_sideways"]
            elif self._holding("stand_tall", m.ready and phase is Phase.IDLE, t):
                wanted = CUES["stand_tall"]
        else:
            self._holding("step_back", False, t)
            self._holding("turn_sideways", False, t)
            self._holding("stand_tall", False, t)

        # Live form cues while bending, only from a usable side view. Every condition is tracked
        # each frame (its onset and its share of the rep); the most important that holds wins.
        in_rep = phase in (Phase.DESCENDING, Phase.ASCENDING)
        if phase is Phase.STANDING and rep is None:
            self._spoken_this_rep.clear()
        dt = self._frame_time(in_rep, t)
        judging = in_rep and m.side_on and m.ready
        bottom = self._at_bottom(in_rep, drop) and judging and m.hip_flex > MIN_REP_HIP_FLEX_DEG
        legs = bottom and not self.drill.kneeling  # kneeling, the shins lie on the floor
        squatting = is_knee_dominant(self.drill, m.hip_flex, m.knee_flex)
        faulty = False  # any form fault showing on this frame, named yet or not
        forward = is_weight_forward(m.com_forward, m.knee_forward, m.hip_travel, m.trunk_angle, squatting)
        for key, seen, bad in (
            ("rounded_back", bottom and m.alignment == m.alignment, m.alignment > ROUNDED_ALIGNMENT),
            ("squatting", legs and m.knee_flex == m.knee_flex, squatting),
            ("weight_forward", legs and m.com_forward == m.com_forward, forward),
            ("head_out_of_line", judging and m.head_angle == m.head_angle, m.head_angle < HEAD_UP_DEG),
        ):
            share = self._shares[key]
            if seen:
                share.add(dt, bad)
                faulty = faulty or bad
            if self._holding(key, seen and bad, t) and share.most() and wanted is None:
                wanted = CUES[key]

        # The hips reached the wall: the depth the drill asks for, said as it happens, since the
        # lifter's eyes stay in line with the back and cannot read the gauge. Once a rep, and not
        # over a fault about to be named (its onset is longer than the tap's).
        tap = judging and self.drill.has_wall and m.wall_reached and not faulty
        tap = tap and "wall_tap" not in self._spoken_this_rep
        if self._holding("wall_tap", tap, t, WALL_TAP_S) and wanted is None:
            wanted = CUES["wall_tap"]
            self._spoken_this_rep.add("wall_tap")
        # A hinge that stopped short of a rep: say why it did not count.
        if dropped == SHALLOW_HINGE and wanted is None:
            wanted = CUES["shallow"]
        # A finished rep: its main fault if not already said, else praise.
        if rep is not None and wanted is None:
            fault = next((f for f in rep.faults if f not in self._spoken_this_rep), None)
            if fault is not None:
                wanted = CUES[fault]
            elif rep.clean:
                wanted = CUES["good_rep"]

        self._show(wanted, t)
        if rep is not None:
            self._spoken_this_rep.clear()

    def _frame_time(self, in_rep: bool, t: float) -> float:
        """This frame's share of the rep (the gap since the last, at most `MAX_FRAME_GAP_S`); a new
        movement starts the tallies afresh."""
        dt = t - self._last_t if self._last_t == self._last_t else 0.0
        self._last_t = t
        if not in_rep:
            for share in self._shares.values():
                share.clear()
        return min(max(dt, 0.0), MAX_FRAME_GAP_S)

    def _at_bottom(self, in_rep: bool, drop: float) -> bool:
        """Whether the shoulders are within the bottom of the rep (`BOTTOM_SHARE` of its depth),
        where its verdict judges the back, the knees and the weight. Live, the depth so far is
        not yet the rep's: on the way down it is held to most of the last rep's."""
        if not in_rep:
            if self._peak_drop > 0.0:
                self._last_peak_drop, self._peak_drop = self._peak_drop, 0.0
            return False
        if drop > self._peak_drop:
            self._peak_drop = drop
        expected = max(self._peak_drop, EXPECTED_DEPTH_SHARE * self._last_peak_drop)
        return drop >= BOTTOM_SHARE * expected

    def _show(self, wanted: Cue | None, t: float) -> None:
        current = self.cue
        if wanted is not None and wanted == current:
            self._cue_asserted_t = t
            if wanted.kind == "form" and wanted.id not in self._spoken_this_rep:
                self._maybe_speak(wanted, t)  # shown while the last sound was too recent
            return
        if wanted is not None:
            held = t - self._cue_since
            if current is None or wanted.priority > current.priority or held >= MIN_HOLD_S:
                self.cue = wanted
                self._cue_since = self._cue_asserted_t = t
                self._maybe_speak(wanted, t)
            return
        # Nothing asserted: let the current cue fade after it has been shown long enough.
        if current is not None:
            if current.kind == "placement":
                if t - self._cue_asserted_t >= ONSET_S:
                    self.cue = None
            elif t - self._cue_since >= SHOW_S:
                self.cue = None

    def _maybe_speak(self, cue: Cue, t: float) -> None:
        if t - self._last_audio_t < self.min_audio_gap_s:
            return
        if t - self._last_said.get(cue.id, -math.inf) < REPEAT_S:
            return
        self.speak = cue
        self._last_audio_t = t
        self._last_said[cue.id] = t
        if cue.kind == "form":
            self._spoken_this_rep.add(cue.id)
