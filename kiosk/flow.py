"""The kiosk flow: what a person walking up to the mirror meets, as a pure state machine.

    ATTRACT <-> PROGRESS          nobody there: how to stand, and today's sets, in rotation
       | someone in view
    PLACEMENT                     step back / turn side-on / stand tall, with a checklist
       | placed (or they just start)
    CHOOSE                        only with drill_select = "pose": hand above the head picks a drill
       |
    ACTIVE  (countdown, then reps) -- set of N done --> REST (summary, replay, timer) --> ACTIVE
                                  (a rep in the rest starts the next set early, unless it began
                                   within SET_DOWN_GRACE_S of the set's end: a bell put down)
       | last set done
    DONE                          session summary with the worst rep replayed slowly
    any screen: nobody in view for idle_timeout_s -> the session ends -> ATTRACT
    ACTIVE: someone stays in view but no rep for inactive_s -> the session ends, a fresh set waits
    DONE:   read for inactive_s -> PLACEMENT (the next person does not inherit the last one's summary)

Pure: one `FrameSnapshot` per processed frame (in order, none skipped) and time in; the screen to
show, what to announce, and calls on a `FlowPort` (session history, engine resets, progress reads)
out. No clock reads, no I/O, so tests drive it frame by frame.

The drill-choice gesture is "raise a hand above your head and hold it for two seconds": a wrist
above the top of the head by a sixth of a leg length. It reads the same from any camera angle,
never happens during a hinge (the hands hang below the shoulders) and cannot be done by accident
while standing. Each hold moves the highlight to the next drill; standing still with the hands down
for `choose_start_s` starts the highlighted one, and so does simply starting to hinge.

A set often opens with a bell picked up from the floor and, when cut short, ends with it put down:
to the counter, a rep with the bottom held while the hands grip or let go. In drills where a bell
may be lifted from the floor (`Drill.bell_from_floor`), `kiosk.reps.SetUpFilter` holds back a
movement held like that until what comes next tells; meanwhile the counter shows one rep fewer, and
the coach's praise waits. During the rest and the summary, such a movement (the bell put down or
picked up) starts nothing: only a rep cuts the rest short.

Per frame the flow copies the pose into a preallocated ring (about 20 s at <= 30 samples a second)
and does O(1) work; when a rep finishes, the frames of the rep being featured (the worst of the set
and of the session) are copied once into preallocated replay clips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol

import numpy as np

from kiosk.body import NUM_KEYPOINTS, BodyPart, Side, X, Y
from kiosk.coach import Cue
from kiosk.drills import DRILLS, get_drill
from kiosk.engine import FrameResult
from kiosk.reps import FAULTS, HELD_AT_BOTTOM, Phase, RepResult, SetUpFilter

# Spoken announcements of the flow (the coach's cues are in `kiosk.coach.CUES`): id -> words.
# `tools/render-cues.py` renders one WAV per entry; ids are file names, keep them stable.
ANNOUNCEMENTS: dict[str, str] = {
    "get_ready": "Get ready",
    "go": "Go",
    "set_done": "Set done. Take a rest",
    "session_done": "Great work. Session done",
    **{f"drill_{name}": drill.title for name, drill in DRILLS.items()},
}

RING_FRAMES = 640  # replay ring: ~21 s at the sampling rate below
CLIP_FRAMES = 640  # a rep is at most `kiosk.reps.MAX_REP_S` (20 s) long
SAMPLE_DT = 1.0 / 30.0  # the ring keeps at most 30 frames a second whatever the camera rate
CLIP_BEFORE_S = 0.3  # replay lead-in before the rep starts ...
CLIP_AFTER_S = 0.6  # ... and after its lockout (shows leaning back at the top)
HAND_UP_LEGS = 1.0 / 6.0  # wrist this far above the top of the head (leg lengths) = hand raised
STILL_LEGS = 0.15  # feet moving more than this (leg lengths) while placing: still walking
# Right after a set the lifter puts the bell down, picks up a towel or straightens up: a "rep" that
# begins this soon after the set's last one is that, and neither cuts the rest short nor opens a new
# session. An early start of the next set comes after a pause (reps in a set follow each other
# within 1-2 s of standing tall).
SET_DOWN_GRACE_S = 3.0


class Screen(Enum):
    """What the mirror shows; the display draws one screen per state."""

    ATTRACT = "attract"
    PROGRESS = "progress"
    PLACEMENT = "placement"
    CHOOSE = "choose"
    ACTIVE = "active"
    REST = "rest"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class FrameSnapshot:
    """What the flow and the display need of one engine frame, copied (the engine reuses its
    `FrameResult`), so it can cross from the inference thread to the display thread."""

    t: float
    pose: np.ndarray  # (17, 3) smoothed x, y, score in source pixels
    valid: np.ndarray  # (17,) bool
    person: bool
    in_frame: bool
    side_on: bool
    missing: str
    side: Side | None
    facing: int
    phase: Phase
    rep: RepResult | None
    reps: int
    depth: float
    alignment: float
    wall_x: float
    wall_reached: bool
    leg_px: float
    cue: Cue | None
    speak: Cue | None
    drill: str
    dropped: str = ""  # why a movement finishing on this frame was not counted (`RepCounter.dropped`)

    @classmethod
    def from_result(cls, r: FrameResult, drill: str) -> FrameSnapshot:
        """Copy an engine result."""
        m = r.metrics
        return cls(
            t=r.t,
            pose=r.pose.copy(),
            valid=r.valid.copy(),
            person=m.person,
            in_frame=m.in_frame,
            side_on=m.side_on,
            missing=m.missing,
            side=m.side,
            facing=m.facing,
            phase=r.phase,
            rep=r.rep,
            reps=r.reps,
            depth=r.depth,
            alignment=m.alignment,
            wall_x=m.wall_x,
            wall_reached=m.wall_reached,
            leg_px=m.leg_px,
            cue=r.cue,
            speak=r.speak,
            drill=drill,
            dropped=r.dropped,
        )


class FlowPort(Protocol):
    """What the flow asks of the world outside it. Times are the frames' clock (seconds)."""

    def start_session(self, drill: str, t: float) -> None: ...
    def start_set(self, number: int, drill: str, target_reps: int, t: float) -> None: ...
    def add_rep(self, rep: RepResult, t: float) -> None: ...
    def end_set(self, t: float) -> None: ...
    def end_session(self, t: float) -> None: ...
    def use_drill(self, drill: str) -> None: ...
    def refresh_progress(self) -> None: ...


# Between two frames of a slow model (a hot Pi, a 4K source: under 4 results a second) the display
# ticks the flow's clock; a person the last frame showed is still there unless this long has passed
# with none showing them, so a visitor still leaves the attract screen at a few frames a second.
PERSON_GONE_S = 1.0


@dataclass(frozen=True)
class FlowSettings:
    """The session's shape (from `[session]` in the configuration) and the flow's timings."""

    drill: str = "hinge"
    drill_select: str = "config"  # "config" | "pose"
    set_size: int = 10
    set_count: int = 2
    rest_s: float = 60.0
    idle_timeout_s: float = 15.0
    inactive_s: float = 60.0  # in view but no rep this long (chatting, sitting down): the session ends
    arrive_s: float = 0.5  # someone seen this long leaves the attract screen
    placed_s: float = 0.8  # in frame, side-on and standing this long: placement done
    countdown_s: float = 3.0
    choose_hold_s: float = 2.0
    choose_start_s: float = 6.0
    attract_s: float = 12.0  # idle rotation: attract this long, then progress ...
    progress_s: float = 8.0  # ... this long


@dataclass
class ReplayClip:
    """The frames of one rep for a slow replay, in preallocated arrays."""

    t: np.ndarray = field(default_factory=lambda: np.zeros(CLIP_FRAMES, np.float64))
    pose: np.ndarray = field(default_factory=lambda: np.zeros((CLIP_FRAMES, NUM_KEYPOINTS, 3), np.float32))
    valid: np.ndarray = field(default_factory=lambda: np.zeros((CLIP_FRAMES, NUM_KEYPOINTS), bool))
    alignment: np.ndarray = field(default_factory=lambda: np.zeros(CLIP_FRAMES, np.float32))
    count: int = 0
    rep: RepResult | None = None
    set_number: int = 0  # the set the rep was in (rep numbers start again in each set)
    side: Side | None = None
    # Bounding box of the clip's valid keypoints (x0, y0, x1, y1), for fitting it into a panel.
    bbox: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)

    @property
    def fault(self) -> str | None:
        """The fault to mark (the rep's main one), None for a clean rep."""
        return self.rep.faults[0] if self.rep is not None and self.rep.faults else None

    @property
    def mark_t(self) -> float:
        """When the fault shows best: at the top for leaning back, else at the bottom."""
        rep = self.rep
        if rep is None:
            return math.nan
        return rep.end_s + 0.3 if self.fault == "hyperextension" else rep.bottom_s

    def copy_from(self, other: ReplayClip) -> None:
        """Take `other`'s frames and rep (a copy: `other` may be reused)."""
        n = self.count = other.count
        self.t[:n] = other.t[:n]
        self.pose[:n] = other.pose[:n]
        self.valid[:n] = other.valid[:n]
        self.alignment[:n] = other.alignment[:n]
        self.rep, self.set_number, self.side, self.bbox = other.rep, other.set_number, other.side, other.bbox

    def clear(self) -> None:
        self.count = 0
        self.rep = None
        self.set_number = 0
        self.side = None


@dataclass(frozen=True)
class SetReport:
    """One finished set, for the summary screens."""

    number: int
    drill: str
    target: int
    reps: tuple[RepResult, ...]

    @property
    def clean(self) -> int:
        return tally(self.reps)[0]

    @property
    def faulted(self) -> int:
        return tally(self.reps)[1]

    @property
    def unjudged(self) -> int:
        """Reps seen too obliquely to judge: they count, but have no score."""
        return sum(1 for r in self.reps if not r.judged)

    @property
    def mean_score(self) -> float:
        """Mean score of the judged reps; NaN when none was judged (a rep not seen from the side
        gets no faults, so its nominal score would flatter the set)."""
        scores = [r.score for r in self.reps if r.judged]
        return sum(scores) / len(scores) if scores else math.nan

    def fault_counts(self) -> list[tuple[str, int]]:
        """(fault, reps showing it), most frequent first, in coaching order on ties."""
        counts = {f: sum(1 for r in self.reps if f in r.faults) for f in FAULTS}
        return sorted(((f, n) for f, n in counts.items() if n), key=lambda kv: -kv[1])


@dataclass(frozen=True)
class Checklist:
    """Placement checks, for the placement screen."""

    in_view: bool
    whole_body: bool
    side_on: bool
    standing: bool
    missing: str


def tally(reps: Sequence[RepResult]) -> tuple[int, int]:
    """(clean, faulted) reps. A rep seen from too oblique a view is neither: it counts, unjudged."""
    clean = sum(1 for r in reps if r.clean)
    return clean, sum(1 for r in reps if r.faults)


def _featured_key(rep: RepResult) -> tuple[int, int, float]:
    """Sort key of the rep to replay: faulted before clean before not judged, then the lowest score
    (faulted) or the highest (clean), then the latest."""
    rank = 0 if rep.faults else (1 if rep.judged else 2)
    return (rank, rep.score if rep.faults else -rep.score, -rep.end_s)


class Flow:
    """The kiosk's screens and session bookkeeping; see the module docstring."""

    def __init__(self, settings: FlowSettings, port: FlowPort) -> None:
        self.settings = settings
        self.port = port
        self.drill = settings.drill
        self.screen = Screen.ATTRACT
        self.screen_since = math.nan
        self.t = math.nan
        self._first_t = math.nan  # the first frame's time: nobody seen yet is nobody since then
        self.say: str | None = None  # announcement id, set only on the step it should be said
        self.last: FrameSnapshot | None = None
        # Session and set. The history is told of a session and a set with their first rep.
        self.in_session = False
        self._session_open = False
        self._set_open = False
        self.set_number = 0
        self.set_reps: list[RepResult] = []
        # Movements held at the bottom like a bell gripped or let go wait for what comes next (see
        # `kiosk.reps.SetUpFilter`); the one held back keeps its snapshot and frames meanwhile.
        self._setups = SetUpFilter(settings.set_size)
        self._held_snap: FrameSnapshot | None = None
        self._held_clip = ReplayClip()
        self._passed_over = False  # this step's rep was not taken: nothing is said of it
        self.sets: list[SetReport] = []
        self.countdown_until = -math.inf
        self.rest_until = -math.inf
        self._rest_end = -math.inf  # when the last rest ended (or will): idle time counts from there
        self._set_ended = -math.inf  # when the last set's last rep finished
        self._active_t = -math.inf  # when a set started or a rep was last under way
        # Presence.
        self._last_person_t = -math.inf
        self._person_since = math.nan
        self._placed_since = math.nan
        self._placed_x = math.nan
        # Drill choice.
        self.choice = list(DRILLS).index(self.drill) if self.drill in DRILLS else 0
        self.hold = 0.0  # 0..1 progress of the hand-raise hold
        self._hand_since = math.nan
        self._hand_armed = True  # the hand must come down between two changes
        self._still_since = math.nan
        self._chosen = False
        # Replay buffers.
        self._ring_t = np.full(RING_FRAMES, -math.inf)
        self._ring_pose = np.zeros((RING_FRAMES, NUM_KEYPOINTS, 3), np.float32)
        self._ring_valid = np.zeros((RING_FRAMES, NUM_KEYPOINTS), bool)
        self._ring_align = np.zeros(RING_FRAMES, np.float32)
        self._ring_side: list[Side | None] = [None] * RING_FRAMES
        self._ring_next = 0
        self.set_clip = ReplayClip()
        self.session_clip = ReplayClip()

    # ------------------------------------------------------------------------------ queries

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(DRILLS)

    @property
    def idle_for(self) -> float:
        """Seconds with nobody in view, not counting a rest (stepping away for a drink is fine), nor
        the time before the first frame."""
        return self.t - max(self._last_person_t, self._rest_end, self._first_t)

    @property
    def countdown(self) -> float:
        """Seconds left of the start countdown (0 once it is over)."""
        return max(0.0, self.countdown_until - self.t)

    @property
    def rest_left(self) -> float:
        return max(0.0, self.rest_until - self.t)

    @property
    def choose_left(self) -> float:
        """Seconds until the highlighted drill starts by itself (CHOOSE)."""
        if self._still_since != self._still_since:
            return self.settings.choose_start_s
        return max(0.0, self.settings.choose_start_s - (self.t - self._still_since))

    @property
    def checklist(self) -> Checklist:
        s = self.last
        if s is None or not s.person:
            return Checklist(False, False, False, False, "body")
        return Checklist(True, s.in_frame, s.side_on, s.in_frame and s.phase is Phase.STANDING, s.missing)

    @property
    def clean(self) -> int:
        return tally(self.set_reps)[0]

    @property
    def faulted(self) -> int:
        return tally(self.set_reps)[1]

    @property
    def held_back(self) -> RepResult | None:
        """The engine's rep the count is waiting on (held like a bell picked up or put down), if any."""
        return self._setups.held

    def cue_to_give(self, cue: Cue | None) -> Cue | None:
        """`cue`, unless it speaks of a movement the count did not take: praise while the count
        waits on a movement held back (what may be a bell picked up earns no "good rep"), and any
        rep's verdict on the step the flow passed over it (the bell put down after the set: no
        "good rep" straight after "set done"). For the screen and the speaker alike."""
        if cue is None or cue.kind == "placement":
            return cue
        if self._passed_over or (cue.kind == "praise" and self.held_back is not None):
            return None
        return cue

    @property
    def last_set(self) -> SetReport | None:
        return self.sets[-1] if self.sets else None

    def session_reps(self) -> list[RepResult]:
        return [r for s in self.sets for r in s.reps]

    # ------------------------------------------------------------------------------ input

    def step(self, snap: FrameSnapshot) -> None:
        """Advance by one processed frame (every frame, in order)."""
        self.say = None
        self.t = t = snap.t
        if self.screen_since != self.screen_since:
            self.screen_since = self._first_t = t
        self.last = snap
        if snap.phase in (Phase.DESCENDING, Phase.ASCENDING, Phase.LOCKOUT):
            self._active_t = t
        if snap.person:
            self._last_person_t = t
            if self._person_since != self._person_since:
                self._person_since = t
        else:
            self._person_since = math.nan
        self._record(snap)
        if snap.dropped == HELD_AT_BOTTOM and self.in_session:
            self._setups.held_at_bottom()  # a bell picked up or put down, slowly
        self._passed_over = snap.rep is not None and not self._on_rep(snap.rep, snap, t)
        self._advance(snap, t)

    def tick(self, t: float) -> None:
        """Time passes without a frame (camera lost): only timeouts advance."""
        self.say = None
        if not math.isfinite(t):
            return
        self.t = t
        if self.screen_since != self.screen_since:
            self.screen_since = self._first_t = t
        if t - self._last_person_t > PERSON_GONE_S:
            self._person_since = math.nan
        self._advance(None, t)

    def choose(self, drill: str) -> None:
        """Switch drill (development keyboard): takes effect for the next set."""
        if drill in DRILLS:
            self.choice = list(DRILLS).index(drill)
            self._use_drill(drill)

    def skip(self) -> None:
        """Skip the countdown or the rest (development keyboard)."""
        self.countdown_until = self.t
        self.rest_until = self.t

    def end(self, t: float) -> None:
        """Shutdown: close whatever is open in the history."""
        self._end_session(t)

    # ------------------------------------------------------------------------------ transitions

    def _go(self, screen: Screen, t: float) -> None:
        if screen is not self.screen:
            self.screen = screen
            self.screen_since = t
            if screen in (Screen.PROGRESS, Screen.DONE):
                self.port.refresh_progress()

    def _advance(self, snap: FrameSnapshot | None, t: float) -> None:
        s = self.settings
        screen = self.screen
        if screen not in (Screen.ATTRACT, Screen.PROGRESS) and self.idle_for >= s.idle_timeout_s:
            self._end_session(t)
            self._go(Screen.ATTRACT, t)
            return

        if screen in (Screen.ATTRACT, Screen.PROGRESS):
            present = self._person_since == self._person_since and t - self._person_since >= s.arrive_s
            if present:
                self._placed_since = math.nan
                self._go(Screen.PLACEMENT, t)
            elif screen is Screen.ATTRACT and t - self.screen_since >= s.attract_s:
                self._go(Screen.PROGRESS, t)
            elif screen is Screen.PROGRESS and t - self.screen_since >= s.progress_s:
                self._go(Screen.ATTRACT, t)
            return

        if screen is Screen.PLACEMENT:
            placed = snap is not None and snap.in_frame and snap.side_on and snap.phase is Phase.STANDING
            feet = _feet_x(snap) if snap is not None and placed else math.nan
            if not placed:
                self._placed_since = math.nan
            elif (
                self._placed_since != self._placed_since
                or abs(feet - self._placed_x) > STILL_LEGS * snap.leg_px
            ):
                # Placed from now; walking (feet moving) keeps restarting the wait.
                self._placed_since, self._placed_x = t, feet
            if placed and t - self._placed_since >= s.placed_s:
                if s.drill_select == "pose" and not self._chosen:
                    self._enter_choose(t)
                else:
                    self._start_set(t)
            return

        if screen is Screen.CHOOSE:
            self._choose_step(snap, t)
            return

        if screen is Screen.ACTIVE:
            if self.countdown_until > -math.inf and t >= self.countdown_until:
                self.countdown_until = -math.inf
                self.say = self.say or "go"
            if self.in_session and t - self._active_t >= s.inactive_s:
                # Someone stayed in view but stopped (or never began): save the session and offer
                # a fresh set (or, choosing by pose, the drill choice), so whoever steps up next
                # does not carry on the last person's count or drill.
                self._end_session(t)
                if s.drill_select == "pose":
                    self._enter_choose(t)
                else:
                    self._start_set(t, countdown=False)
            return

        if screen is Screen.DONE:
            if t - self.screen_since >= s.inactive_s:
                self._end_session(t)  # the next visitor starts on the configured drill
                self._placed_since = math.nan
                self._go(Screen.PLACEMENT, t)
            return

        if screen is Screen.REST and t >= self.rest_until:
            self._start_set(t)

    def _enter_choose(self, t: float) -> None:
        self.choice = list(DRILLS).index(self.drill)
        self.hold = 0.0
        self._hand_since = math.nan
        self._hand_armed = True
        self._still_since = t
        self._go(Screen.CHOOSE, t)

    def _choose_step(self, snap: FrameSnapshot | None, t: float) -> None:
        s = self.settings
        up = snap is not None and hand_raised(snap)
        if up and self._hand_armed:
            if self._hand_since != self._hand_since:
                self._hand_since = t
            self.hold = min(1.0, (t - self._hand_since) / s.choose_hold_s)
            if self.hold >= 1.0:
                names = list(DRILLS)
                self.choice = (self.choice + 1) % len(names)
                self.say = f"drill_{names[self.choice]}"
                # Judged by the highlighted drill from now: a visitor may simply start lifting.
                self._use_drill(names[self.choice])
                self._hand_armed = False
                self.hold = 0.0
            self._still_since = math.nan
            return
        self._hand_since = math.nan
        self.hold = 0.0
        if not up:
            self._hand_armed = True
        standing = snap is not None and snap.in_frame and snap.phase is Phase.STANDING and not up
        if not standing:
            self._still_since = math.nan
        elif self._still_since != self._still_since:
            self._still_since = t
        elif t - self._still_since >= s.choose_start_s:
            self._chosen = True
            self._start_set(t)

    def _use_drill(self, drill: str) -> None:
        if drill != self.drill:
            self.drill = drill
            self.port.use_drill(drill)

    def _start_set(self, t: float, *, countdown: bool = True) -> None:
        """A set starts on screen; the history hears of it with its first rep (a passer-by who
        triggers the start but never hinges leaves no empty session behind)."""
        s = self.settings
        if not self.in_session:
            self.in_session = True
            self.sets = []
            self.set_number = 0
            self.session_clip.clear()
            self._setups.new_session()
        self.set_number += 1
        self.set_reps = []
        self._setups.reset(s.set_size)
        self._held_snap = None
        self.set_clip.clear()
        self.countdown_until = t + s.countdown_s if countdown and s.countdown_s > 0 else -math.inf
        self.rest_until = -math.inf
        self._rest_end = min(self._rest_end, t)  # a rest cut short by a rep is over now
        self._active_t = t
        if countdown:
            self.say = "get_ready"
        self._go(Screen.ACTIVE, t)

    def _on_rep(self, rep: RepResult, snap: FrameSnapshot, t: float) -> bool:
        """Take the engine's rep into the set (counted, or held back for what comes next); False
        when it is passed over."""
        screen = self.screen
        if screen in (Screen.ATTRACT, Screen.PROGRESS):
            return False  # a "rep" by someone not yet greeted: the placement comes first
        if screen is Screen.CHOOSE:
            self._chosen = True
        bell = get_drill(self.drill).bell_from_floor
        if screen in (Screen.REST, Screen.DONE) and rep.start_s < self._set_ended + SET_DOWN_GRACE_S:
            self._setups.put_down()
            return False  # putting the bell down after the set, not the next set's first rep
        if screen in (Screen.REST, Screen.DONE) and bell and not self._setups.between_sets(rep):
            return False  # the bell put down or picked up during the rest: the rest runs on
        if screen in (Screen.PLACEMENT, Screen.CHOOSE, Screen.REST, Screen.DONE):
            # They started moving: that is the start signal. DONE: a new session.
            if screen is Screen.DONE:
                self.in_session = False
            self._start_set(t, countdown=False)
        self.countdown_until = -math.inf
        if not bell:
            self._count(rep, snap)
            return True
        setups, held_snap = self._setups, self._held_snap
        for counted in setups.offer(rep):
            if counted is rep:
                self._count(rep, snap)
            elif held_snap is not None:  # counted late: at its own time, with the frames kept for it
                self._count(counted, held_snap, self._held_clip)
        self._held_snap = snap if setups.held is rep else None
        if setups.held is rep:  # the replay ring may have moved on by the time it is decided
            self._copy_clip(rep, snap, self._held_clip)
        return True

    def _count(self, rep: RepResult, snap: FrameSnapshot, clip: ReplayClip | None = None) -> None:
        """Count `rep` (finished at `snap`) in the set; `clip`: its frames, if copied already."""
        t = snap.t
        if not self._session_open:  # the history hears of a session and a set with their first rep
            self.port.start_session(self.drill, t)
            self._session_open = True
        if not self._set_open:
            self.port.start_set(self.set_number, self.drill, self.settings.set_size, t)
            self._set_open = True
        # The engine counts every rep it has seen; the set, the history and the replay number them
        # from 1 within the set.
        rep = replace(rep, index=len(self.set_reps) + 1)
        self.set_reps.append(rep)
        self.port.add_rep(rep, t)
        self._feature(rep, snap, clip)
        if len(self.set_reps) >= self.settings.set_size:
            self._finish_set(t)

    def _finish_set(self, t: float) -> None:
        s = self.settings
        self._set_ended = t
        self.sets.append(SetReport(self.set_number, self.drill, s.set_size, tuple(self.set_reps)))
        self.port.end_set(t)
        self._set_open = False
        if self.set_number >= s.set_count:
            self.port.end_session(t)
            self._session_open = False
            self.in_session = False
            self._chosen = False
            self.say = "session_done"
            self._go(Screen.DONE, t)
        else:
            self.rest_until = self._rest_end = t + s.rest_s
            self.say = "set_done"
            self._go(Screen.REST, t)

    def _end_session(self, t: float) -> None:
        """Close what the history has open; the next visitor starts on the configured drill."""
        lone = self._setups.end()  # what was held back with nothing after it (see `SetUpFilter`)
        if lone is not None and self._held_snap is not None:
            self._count(lone, self._held_snap, self._held_clip)
        self._held_snap = None
        if self._set_open:
            self.port.end_set(t)
        if self._session_open:
            self.port.end_session(t)
        self._set_open = self._session_open = False
        self.in_session = False
        self._chosen = False
        self.set_reps = []
        self.countdown_until = self.rest_until = -math.inf
        if self.settings.drill in DRILLS:
            self.choice = list(DRILLS).index(self.settings.drill)
        self._use_drill(self.settings.drill)

    # ------------------------------------------------------------------------------ replay

    def _record(self, snap: FrameSnapshot) -> None:
        i = self._ring_next
        last = self._ring_t[(i - 1) % RING_FRAMES]
        if snap.t - last < SAMPLE_DT * 0.9:
            return
        self._ring_t[i] = snap.t
        self._ring_pose[i] = snap.pose
        self._ring_valid[i] = snap.valid
        self._ring_align[i] = snap.alignment
        self._ring_side[i] = snap.side
        self._ring_next = (i + 1) % RING_FRAMES

    def _feature(self, rep: RepResult, snap: FrameSnapshot, frames: ReplayClip | None = None) -> None:
        """Keep the frames of `rep` if it is now the rep to replay for the set or the session; from
        `frames` when they were copied out of the ring already, else from the ring."""
        for clip in (self.set_clip, self.session_clip):
            if clip.rep is None or _featured_key(rep) < _featured_key(clip.rep):
                if frames is None:
                    self._copy_clip(rep, snap, clip)
                else:
                    clip.copy_from(frames)
                clip.rep, clip.set_number = rep, self.set_number

    def _copy_clip(self, rep: RepResult, snap: FrameSnapshot, clip: ReplayClip) -> None:
        start, end = rep.start_s - CLIP_BEFORE_S, rep.end_s + CLIP_AFTER_S
        order = np.argsort(self._ring_t)
        ts = self._ring_t[order]
        keep = order[(ts >= start) & (ts <= end)][-CLIP_FRAMES:]
        n = int(keep.size)
        clip.count = n
        clip.rep = rep
        clip.set_number = self.set_number
        clip.side = snap.side
        if n == 0:
            return
        clip.t[:n] = self._ring_t[keep]
        clip.pose[:n] = self._ring_pose[keep]
        clip.valid[:n] = self._ring_valid[keep]
        clip.alignment[:n] = self._ring_align[keep]
        pts = clip.pose[:n][clip.valid[:n]]
        if pts.size:
            clip.bbox = (
                float(pts[:, X].min()),
                float(pts[:, Y].min()),
                float(pts[:, X].max()),
                float(pts[:, Y].max()),
            )
        counts = {s: sum(1 for k in keep if self._ring_side[k] is s) for s in Side}
        clip.side = max(counts, key=lambda s: counts[s]) if any(counts.values()) else snap.side


_WRISTS = (int(BodyPart.LEFT_WRIST), int(BodyPart.RIGHT_WRIST))
_ANKLES = (int(BodyPart.LEFT_ANKLE), int(BodyPart.RIGHT_ANKLE))
_HEAD = tuple(
    int(p)
    for p in (BodyPart.NOSE, BodyPart.LEFT_EYE, BodyPart.RIGHT_EYE, BodyPart.LEFT_EAR, BodyPart.RIGHT_EAR)
)


def hand_raised(snap: FrameSnapshot) -> bool:
    """A wrist clearly above the top of the head (image y points down)."""
    if not (snap.leg_px > 0):
        return False
    valid, pose = snap.valid, snap.pose
    head_top = math.inf
    for i in _HEAD:
        if valid[i] and pose[i, Y] < head_top:
            head_top = float(pose[i, Y])
    if head_top == math.inf:
        return False
    margin = HAND_UP_LEGS * snap.leg_px
    return any(bool(valid[i]) and float(pose[i, Y]) < head_top - margin for i in _WRISTS)


def _feet_x(snap: FrameSnapshot) -> float:
    """Mean x of the ankles seen (NaN when neither is)."""
    xs = [float(snap.pose[i, X]) for i in _ANKLES if snap.valid[i]]
    return sum(xs) / len(xs) if xs else math.nan
