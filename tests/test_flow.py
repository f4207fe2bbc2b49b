"""The kiosk flow, driven frame by frame: synthetic performer -> engine -> flow, no clock, no I/O."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from kiosk.body import BodyPart
from kiosk.engine import HingeEngine
from kiosk.flow import (
    ANNOUNCEMENTS,
    CLIP_FRAMES,
    Flow,
    FlowSettings,
    FrameSnapshot,
    Screen,
    SetReport,
    _featured_key,
    hand_raised,
)
from kiosk.performer import Performer, Posture, RepSpec, Scenario, perform
from kiosk.reps import RepResult
from tests.helpers import run_engine

FPS = 30.0
NOBODY = np.zeros((17, 3), np.float32)


class RecordingPort:
    """Remembers what the flow asked of the outside world."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.drill = "hinge"

    def start_session(self, drill: str, t: float) -> None:
        self.calls.append(("start_session", drill))

    def start_set(self, number: int, drill: str, target_reps: int, t: float) -> None:
        self.calls.append(("start_set", number, target_reps))

    def add_rep(self, rep, t: float) -> None:
        self.calls.append(("add_rep", rep.index))

    def end_set(self, t: float) -> None:
        self.calls.append(("end_set",))

    def end_session(self, t: float) -> None:
        self.calls.append(("end_session",))

    def use_drill(self, drill: str) -> None:
        self.calls.append(("use_drill", drill))
        self.drill = drill

    def refresh_progress(self) -> None:
        self.calls.append(("refresh_progress",))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls if c[0] != "refresh_progress"]


class Driver:
    """Feeds poses through a real engine into the flow, one frame at a time."""

    def __init__(self, settings: FlowSettings) -> None:
        self.port = RecordingPort()
        self.flow = Flow(settings, self.port)
        self.engines: dict[str, HingeEngine] = {}
        self.t = 0.0
        self.said: list[str] = []
        self.spoken: list[tuple[float, str]] = []  # the coach's cues the flow lets through
        self.screens: list[Screen] = [self.flow.screen]

    def frame(self, kp: np.ndarray | None) -> FrameSnapshot:
        drill = self.port.drill
        engine = self.engines.setdefault(drill, HingeEngine(drill, frame_size=(640, 480)))
        snap = FrameSnapshot.from_result(engine.step(NOBODY if kp is None else kp, self.t), drill)
        self.flow.step(snap)
        if self.flow.say:
            self.said.append(self.flow.say)
        cue = self.flow.cue_to_give(snap.speak)
        if cue is not None:
            self.spoken.append((self.t, cue.id))
        if self.flow.screen is not self.screens[-1]:
            self.screens.append(self.flow.screen)
        self.t += 1.0 / FPS
        return snap

    def nobody(self, seconds: float) -> None:
        for _ in range(round(seconds * FPS)):
            self.frame(None)

    def perform(self, scenario: Scenario, edit=None) -> None:
        perf = Performer(scenario)
        for i in range(round(perf.duration_s * FPS)):
            kp = perf.pose_at(i / FPS)
            if edit is not None:
                edit(i / FPS, kp, perf)
            self.frame(kp)


def reps(*faults: str | None, rest_s: float = 1.0, last_rest_s: float = 1.0) -> tuple[RepSpec, ...]:
    specs = [RepSpec(fault=f, rest_s=rest_s) for f in faults]
    specs[-1] = RepSpec(fault=faults[-1], rest_s=last_rest_s)
    return tuple(specs)


SMALL = FlowSettings(set_size=3, set_count=2, rest_s=4.0, idle_timeout_s=6.0, countdown_s=1.0)


def test_a_whole_session_walks_through_every_screen_and_writes_the_history() -> None:
    d = Driver(SMALL)
    d.nobody(1.0)
    scenario = Scenario(
        reps=(*reps(None, "rounded_back", None, last_rest_s=6.0), *reps(None, None, "squatting")),
        walk_in_s=2.0,
        stand_s=3.0,
        walk_out_s=2.0,
        seed=3,
    )
    d.perform(scenario)
    d.nobody(8.0)
    assert d.screens == [
        Screen.ATTRACT,
        Screen.PLACEMENT,
        Screen.ACTIVE,
        Screen.REST,
        Screen.ACTIVE,
        Screen.DONE,
        Screen.ATTRACT,
    ]
    assert d.port.names() == [
        "start_session",
        "start_set",
        "add_rep",
        "add_rep",
        "add_rep",
        "end_set",
        "start_set",
        "add_rep",
        "add_rep",
        "add_rep",
        "end_set",
        "end_session",
    ]
    flow = d.flow
    assert [len(s.reps) for s in flow.sets] == [3, 3]
    assert flow.sets[0].faulted == 1 and flow.sets[0].clean == 2
    assert ("rounded_back", 1) in flow.sets[0].fault_counts()
    assert d.said.count("get_ready") == 2 and "set_done" in d.said and "session_done" in d.said
    assert all(s in ANNOUNCEMENTS for s in d.said)


def test_the_replay_keeps_the_worst_rep_with_its_frames() -> None:
    d = Driver(FlowSettings(set_size=3, set_count=1, countdown_s=0.0))
    d.perform(Scenario(reps=reps(None, "rounded_back", None), stand_s=3.0, seed=5))
    clip = d.flow.session_clip
    assert clip.rep is not None and clip.fault == "rounded_back"
    assert 0 < clip.count <= CLIP_FRAMES
    ts = clip.t[: clip.count]
    assert np.all(np.diff(ts) > 0)
    assert ts[0] <= clip.rep.start_s and ts[-1] >= clip.rep.end_s
    assert ts[0] <= clip.mark_t <= ts[-1]
    assert clip.valid[: clip.count].any(axis=1).all()
    x0, y0, x1, y1 = clip.bbox
    assert x1 > x0 and y1 > y0


def test_a_clean_set_replays_its_best_rep() -> None:
    d = Driver(FlowSettings(set_size=2, set_count=1, countdown_s=0.0))
    d.perform(Scenario(reps=reps(None, None), stand_s=3.0, seed=7))
    clip = d.flow.set_clip
    assert clip.rep is not None and clip.fault is None
    assert clip.rep.score == max(r.score for r in d.flow.sets[0].reps)


def test_idle_time_counts_from_the_first_frame_and_from_the_last_person_seen() -> None:
    """A kiosk switched on in an empty room has been idle since it started, not for ever: standby
    and the black screen wait their whole time from there."""
    flow = Flow(SMALL, RecordingPort())
    nobody = FrameSnapshot.from_result(HingeEngine("hinge").step(NOBODY, 0.0), "hinge")
    flow.tick(100.0)
    assert flow.idle_for == 0.0
    flow.tick(130.0)
    assert flow.idle_for == 30.0
    flow.step(dataclasses.replace(nobody, t=131.0, person=True))
    flow.step(dataclasses.replace(nobody, t=135.0))
    assert flow.idle_for == 4.0


def test_nobody_for_the_idle_timeout_ends_the_session_mid_set() -> None:
    d = Driver(SMALL)
    d.perform(Scenario(reps=reps(None, last_rest_s=1.0), stand_s=3.0, walk_out_s=2.0, seed=2))
    assert d.flow.screen is Screen.ACTIVE and len(d.flow.set_reps) == 1
    d.nobody(SMALL.idle_timeout_s - 1.0)
    assert d.flow.screen is Screen.ACTIVE  # a short absence keeps the set
    d.nobody(2.0)
    assert d.flow.screen is Screen.ATTRACT
    assert d.port.names()[-2:] == ["end_set", "end_session"]


def test_stepping_away_during_the_rest_does_not_end_the_session() -> None:
    d = Driver(FlowSettings(set_size=1, set_count=2, rest_s=20.0, idle_timeout_s=6.0, countdown_s=0.0))
    d.perform(Scenario(reps=reps(None), stand_s=3.0, walk_out_s=2.0, seed=4))
    assert d.flow.screen is Screen.REST
    d.nobody(15.0)  # longer than the idle timeout, shorter than rest + idle timeout
    assert d.flow.screen in (Screen.REST, Screen.ACTIVE)
    d.nobody(15.0)
    assert d.flow.screen is Screen.ATTRACT


def test_someone_walking_past_never_opens_a_session() -> None:
    d = Driver(SMALL)
    d.perform(Scenario(reps=(), stand_s=3.0, walk_in_s=2.0, walk_out_s=2.0, seed=8))
    d.nobody(SMALL.idle_timeout_s + 1)
    assert d.flow.screen is Screen.ATTRACT
    assert "start_session" not in d.port.names()


def test_a_visitor_is_seen_arriving_at_a_slow_models_rate() -> None:
    """Three results a second (a hot Pi, a 4K source), with the display ticking the flow's clock
    every 0.25 s between them as the app does: the visitor still gets placed and starts the set."""
    flow = Flow(SMALL, RecordingPort())
    engine = HingeEngine(SMALL.drill, frame_size=(640, 480))
    perf = Performer(Scenario(reps=reps(None, None), stand_s=3.0, seed=6))
    screens = []
    for i in range(round(perf.duration_s * 3.0)):
        t = i / 3.0
        flow.step(FrameSnapshot.from_result(engine.step(perf.pose_at(t), t), SMALL.drill))
        flow.tick(t + 0.25)
        screens.append(flow.screen)
    assert Screen.PLACEMENT in screens and flow.screen is Screen.ACTIVE


def test_idle_screens_rotate_between_attract_and_progress() -> None:
    settings = FlowSettings(attract_s=3.0, progress_s=2.0)
    d = Driver(settings)
    d.nobody(3.5)
    assert d.flow.screen is Screen.PROGRESS
    assert ("refresh_progress",) in d.port.calls
    d.nobody(2.0)
    assert d.flow.screen is Screen.ATTRACT


def test_starting_to_hinge_during_placement_starts_the_set() -> None:
    # Facing the camera at 45 degrees: never side-on, so the placement never completes, but the
    # reps still count (unjudged) and start the set.
    d = Driver(SMALL)
    d.perform(Scenario(reps=reps(None, None), stand_s=2.0, yaw_deg=45.0, seed=6))
    assert d.flow.screen is Screen.ACTIVE
    assert len(d.flow.set_reps) == 2
    assert d.port.names()[:3] == ["start_session", "start_set", "add_rep"]


def raise_hand(start: float, end: float):
    """An edit for `Driver.perform`: both wrists overhead between `start` and `end`."""

    def edit(t: float, kp: np.ndarray, perf: Performer) -> None:
        if start <= t < end:
            for shoulder, wrist in (
                (BodyPart.LEFT_SHOULDER, BodyPart.LEFT_WRIST),
                (BodyPart.RIGHT_SHOULDER, BodyPart.RIGHT_WRIST),
            ):
                kp[wrist, 0] = kp[shoulder, 0]
                kp[wrist, 1] = kp[shoulder, 1] - 0.33 * perf.body_px

    return edit


def test_holding_a_hand_up_picks_the_next_drill_and_standing_still_starts_it() -> None:
    settings = FlowSettings(drill_select="pose", set_size=1, set_count=1, countdown_s=0.0)
    d = Driver(settings)
    # Placed at ~1.3 s; hand up 2.0-5.0 s (the hold takes 2 s); then still until the auto-start.
    d.perform(
        Scenario(reps=reps(None), stand_s=2.0 + 3.0 + settings.choose_start_s + 1.5, seed=9),
        edit=raise_hand(2.0, 5.0),
    )
    assert Screen.CHOOSE in d.screens
    assert "drill_wall-hinge" in d.said
    assert ("use_drill", "wall-hinge") in d.port.calls
    assert d.flow.drill == "wall-hinge"
    assert ("start_session", "wall-hinge") in d.port.calls
    # One long hold moves one step: the hand must come down before the next change.
    assert d.said.count("drill_wall-hinge") == 1 and "drill_kneeling-hinge" not in d.said


def test_a_visitor_who_starts_lifting_on_a_highlighted_drill_is_judged_by_it() -> None:
    # A kettlebell deadlift with a knee bend the standing hinge calls squatting.
    bottom = Posture(knee=78.0, trunk=60.0, head=8.0, com=0.05)
    specs = tuple(RepSpec(bottom=bottom, bottom_s=0.3, rest_s=1.0) for _ in range(2))
    hinge_reps, _ = run_engine(perform(reps=specs, stand_s=3.0, seed=9).track, "hinge")
    assert all("squatting" in r.faults for r in hinge_reps)  # else this test shows nothing
    d = Driver(FlowSettings(drill_select="pose", set_size=10, countdown_s=0.0))
    # Placed at ~1.3 s; three holds step the highlight to kettlebell-deadlift; lifting starts at 13 s,
    # before standing still would have confirmed it.
    hands = [raise_hand(a, b) for a, b in ((2.0, 4.8), (5.3, 8.1), (8.6, 11.4))]
    d.perform(
        Scenario(reps=specs, drill="kettlebell-deadlift", stand_s=13.0, seed=9),
        edit=lambda t, kp, perf: [edit(t, kp, perf) for edit in hands],
    )
    assert d.said.count("drill_kettlebell-deadlift") == 1
    assert ("start_session", "kettlebell-deadlift") in d.port.calls
    assert [r.faults for r in d.flow.set_reps] == [(), ()]


def test_hand_raised_needs_a_wrist_above_the_head() -> None:
    perf = Performer(Scenario(reps=(), stand_s=1.0))
    engine = HingeEngine("hinge", frame_size=(640, 480))
    for i in range(20):
        snap = FrameSnapshot.from_result(engine.step(perf.pose_at(i / FPS), i / FPS), "hinge")
    assert snap.person and not hand_raised(snap)
    kp = perf.pose_at(0.7)
    raise_hand(0.0, 1.0)(0.7, kp, perf)
    for i in range(20, 30):
        snap = FrameSnapshot.from_result(engine.step(kp, i / FPS), "hinge")
    assert hand_raised(snap)


def test_the_next_visitor_starts_on_the_configured_drill() -> None:
    d = Driver(FlowSettings(set_size=5, idle_timeout_s=5.0))
    d.perform(Scenario(reps=reps(None), stand_s=3.0, seed=1))
    d.flow.choose("kettlebell-deadlift")  # the development keyboard
    assert d.flow.drill == "kettlebell-deadlift"
    d.nobody(6.0)
    assert d.flow.screen is Screen.ATTRACT and d.flow.drill == "hinge"
    assert d.port.drill == "hinge"


def test_end_closes_whatever_is_open() -> None:
    d = Driver(SMALL)
    d.perform(Scenario(reps=reps(None), stand_s=3.0, seed=12))
    assert d.flow.in_session
    d.flow.end(d.t)
    assert d.port.names()[-2:] == ["end_set", "end_session"]
    d.flow.end(d.t)  # twice is harmless
    assert d.port.names().count("end_session") == 1


def test_time_without_frames_still_times_out() -> None:
    d = Driver(SMALL)
    d.perform(Scenario(reps=reps(None), stand_s=3.0, seed=13))
    t = d.t
    d.flow.tick(t + SMALL.idle_timeout_s + 0.5)
    assert d.flow.screen is Screen.ATTRACT
    d.flow.tick(math.nan)  # an unusable time changes nothing
    assert d.flow.screen is Screen.ATTRACT


@pytest.mark.parametrize("fault", ["squatting", "head_out_of_line"])
def test_set_reports_name_the_faults(fault: str) -> None:
    d = Driver(FlowSettings(set_size=2, set_count=1, countdown_s=0.0))
    d.perform(Scenario(reps=reps(fault, None), stand_s=3.0, seed=21))
    report = d.flow.sets[0]
    assert report.fault_counts()[0][0] == fault
    assert report.mean_score < 100


def _rep(index: int, score: int, faults: tuple[str, ...] = (), judged: bool = True) -> RepResult:
    return RepResult(index, 0.0, 1.0, 2.0, score, faults, 100.0, 160.0, 0.5, None, 1.0, 1.0, judged)


def test_reps_not_judged_leave_the_mean_score_alone() -> None:
    # A rep seen too obliquely gets no faults and so a near-perfect nominal score; it must not
    # flatter the set.
    reps = (_rep(1, 60, ("rounded_back",)), _rep(2, 80), _rep(3, 97, judged=False))
    report = SetReport(1, "hinge", 3, reps)
    assert report.mean_score == 70.0
    assert (report.clean, report.faulted, report.unjudged) == (1, 1, 1)
    nobody_judged = SetReport(1, "hinge", 2, (_rep(1, 97, judged=False), _rep(2, 99, judged=False)))
    assert math.isnan(nobody_judged.mean_score)


def test_the_rep_to_replay_is_faulted_then_clean_and_never_one_not_judged_over_a_judged_one() -> None:
    faulted, clean, unjudged = _rep(1, 60, ("squatting",)), _rep(2, 85), _rep(3, 99, judged=False)
    assert min((unjudged, clean, faulted), key=_featured_key) is faulted
    assert min((unjudged, clean), key=_featured_key) is clean


def test_putting_the_bell_down_after_a_set_is_not_the_next_sets_first_rep() -> None:
    # A quick set-down (a short hold at the bottom) looks like a rep to the counter; right after
    # the set it must neither cut the rest short nor, after the last set, open a new session.
    for set_count, screen in ((2, Screen.REST), (1, Screen.DONE)):
        d = Driver(FlowSettings(set_size=2, set_count=set_count, rest_s=30.0, countdown_s=0.0))
        d.perform(Scenario(reps=reps(None, None, last_rest_s=0.5), setdown_s=1.0, stand_s=3.0, seed=9))
        assert d.engines["hinge"].counter.count == 3  # the counter did take the set-down for a rep
        assert d.flow.screen is screen
        assert d.port.names().count("add_rep") == 2 and d.port.names().count("start_session") == 1


@pytest.mark.parametrize(("drill", "set_count"), [("hinge", 2), ("kettlebell-deadlift", 1)])
def test_putting_the_bell_down_after_a_set_earns_no_good_rep(drill: str, set_count: int) -> None:
    d = Driver(FlowSettings(drill=drill, set_size=3, set_count=set_count, rest_s=60.0, countdown_s=0.0))
    d.port.drill = drill
    specs = (RepSpec(bottom_s=0.2), RepSpec(bottom_s=0.3), RepSpec(bottom_s=0.2, rest_s=0.5))
    d.perform(Scenario(reps=specs, drill=drill, setdown_s=1.0, stand_s=3.0, seed=9))
    assert d.engines[drill].counter.count == 4 and d.port.names().count("add_rep") == 3
    set_done = d.said.index("set_done" if set_count > 1 else "session_done")
    assert d.said[set_done:] == [d.said[set_done]]
    # Praise during the set (the coach's repeat time, 8 s, holds back most of it), none for the
    # set-down, which comes after the set's last rep.
    last_rep = d.flow.sets[0].reps[-1].end_s
    assert "good_rep" in [cue for _, cue in d.spoken], d.spoken
    assert [cue for t, cue in d.spoken if t > last_rep + 0.1] == [], d.spoken


def test_a_rep_after_a_pause_in_the_rest_starts_the_next_set() -> None:
    d = Driver(FlowSettings(set_size=2, set_count=2, rest_s=60.0, countdown_s=0.0))
    d.perform(Scenario(reps=reps(None, None, None, rest_s=1.0, last_rest_s=1.0), stand_s=3.0, seed=10))
    assert d.flow.screen is Screen.REST  # the third rep came too soon after the set
    d.perform(Scenario(reps=reps(None), stand_s=5.0, seed=11))
    assert d.flow.screen is Screen.ACTIVE and d.flow.set_number == 2 and len(d.flow.set_reps) == 1


def test_reps_are_numbered_within_their_set() -> None:
    # The engine counts every rep it has seen; the set, the history and the replay count from 1.
    d = Driver(FlowSettings(set_size=3, set_count=2, rest_s=4.0, countdown_s=1.0))
    first = reps(None, None, None, last_rest_s=6.0)  # past the set-down grace and the rest
    d.perform(Scenario(reps=(*first, *reps(None, "rounded_back", None, last_rest_s=2.0)), seed=2))
    assert [[r.index for r in s.reps] for s in d.flow.sets] == [[1, 2, 3], [1, 2, 3]]
    assert [c[1] for c in d.port.calls if c[0] == "add_rep"] == [1, 2, 3, 1, 2, 3]
    assert d.flow.set_clip.rep is not None and d.flow.set_clip.rep.index == 2  # the rounded one
    assert d.flow.set_clip.set_number == 2  # so the replay can say "Set 2, rep 2"


def _standing_still(d: Driver, seconds: float) -> None:
    pose = Performer(Scenario(reps=(RepSpec(),))).pose_at(0.0)
    for _ in range(round(seconds * FPS)):
        d.frame(pose)


def test_someone_who_stays_in_view_but_stops_does_not_leave_the_set_to_the_next_person() -> None:
    settings = FlowSettings(set_size=5, set_count=2, countdown_s=0.0, inactive_s=30.0)
    d = Driver(settings)
    d.perform(Scenario(reps=reps(None, None, last_rest_s=1.0), stand_s=3.0, seed=2))
    assert d.flow.screen is Screen.ACTIVE and len(d.flow.set_reps) == 2
    _standing_still(d, settings.inactive_s - 5.0)  # a pause inside a set keeps it
    assert len(d.flow.set_reps) == 2 and d.port.names()[-1] == "add_rep"
    _standing_still(d, 10.0)
    assert d.port.names()[-2:] == ["end_set", "end_session"]  # saved
    assert d.flow.screen is Screen.ACTIVE and d.flow.set_number == 1 and d.flow.set_reps == []
    _standing_still(d, 2 * settings.inactive_s)  # nothing left open: no more resets
    assert d.port.names().count("end_session") == 1


def test_choosing_by_pose_the_next_person_after_an_idle_minute_gets_the_choice_back() -> None:
    settings = FlowSettings(drill_select="pose", set_size=5, countdown_s=0.0, inactive_s=30.0)
    d = Driver(settings)
    d.perform(Scenario(reps=reps(None), stand_s=4.0, seed=2), edit=raise_hand(2.0, 5.0))
    assert d.flow.drill == "wall-hinge" and len(d.flow.set_reps) == 1
    _standing_still(d, settings.inactive_s + 2.0)
    assert d.port.names()[-3:] == ["end_set", "end_session", "use_drill"]
    assert d.flow.screen is Screen.CHOOSE and d.flow.drill == "hinge" and d.port.drill == "hinge"


def test_after_the_summary_times_out_the_next_visitor_starts_on_the_configured_drill() -> None:
    settings = FlowSettings(set_size=1, set_count=1, countdown_s=0.0, inactive_s=20.0)
    d = Driver(settings)
    d.flow.choose("wall-hinge")  # the development keyboard, as a stand-in for the last visitor's pick
    d.perform(Scenario(reps=reps(None), stand_s=3.0, seed=6))
    assert d.flow.screen is Screen.DONE and d.flow.drill == "wall-hinge"
    _standing_still(d, settings.inactive_s + 1.0)
    assert Screen.PLACEMENT in d.screens[d.screens.index(Screen.DONE) :]
    assert d.flow.drill == "hinge" and d.port.drill == "hinge"


def test_the_session_summary_does_not_wait_for_the_next_person() -> None:
    settings = FlowSettings(set_size=2, set_count=1, countdown_s=0.0, inactive_s=20.0)
    d = Driver(settings)
    d.perform(Scenario(reps=reps(None, None, last_rest_s=1.0), stand_s=3.0, seed=6))
    assert d.flow.screen is Screen.DONE
    _standing_still(d, settings.inactive_s - 2.0)
    assert d.flow.screen is Screen.DONE
    _standing_still(d, 4.0)
    assert Screen.PLACEMENT in d.screens[-2:] or d.flow.screen is Screen.PLACEMENT


def _kb_driver(**settings) -> Driver:
    """A driver for the kettlebell deadlift, no countdown."""
    d = Driver(FlowSettings(drill="kettlebell-deadlift", countdown_s=0.0, **settings))
    d.port.drill = "kettlebell-deadlift"
    return d


def _bell_set(drill: str, pickup_s: float, bottoms: list[float], seed: int, arms: str = "hang") -> Driver:
    rng = np.random.default_rng(seed)
    specs = tuple(
        RepSpec(
            down_s=float(rng.uniform(0.8, 1.6)), bottom_s=b, up_s=float(rng.uniform(0.7, 1.3)), rest_s=1.0
        )
        for b in bottoms
    )
    d = Driver(FlowSettings(drill=drill, set_size=10, set_count=2, countdown_s=0.0))
    d.port.drill = drill
    d.perform(Scenario(reps=specs, drill=drill, pickup_s=pickup_s, stand_s=3.0, seed=seed, arms=arms))
    return d


@pytest.mark.parametrize("drill", ["kettlebell-deadlift", "hinge"])
@pytest.mark.parametrize("pickup_s", [1.5, 2.0, 3.0])
def test_a_bell_picked_up_before_the_first_rep_is_not_counted(drill: str, pickup_s: float) -> None:
    # Gripping the bell holds the bottom 1.5-3 s, under the counter's 5 s: the engine counts it.
    d = _bell_set(drill, pickup_s, [0.2, 0.4, 0.3, 0.5, 0.1, 0.3], seed=3)
    assert d.engines[drill].counter.count == 7
    assert [r.index for r in d.flow.set_reps] == [1, 2, 3, 4, 5, 6]
    assert d.port.names().count("add_rep") == 6


@pytest.mark.parametrize("drill", ["kettlebell-deadlift", "hinge"])
@pytest.mark.parametrize("bottom_s", [1.5, 2.5, 3.0])
def test_a_slow_first_rep_held_like_the_rest_counts_once_the_second_shows_it(drill: str, bottom_s: float):
    # Paused reps (a taught tempo): the first may be a pickup until the second holds as long.
    d = _bell_set(drill, 0.0, [bottom_s] * 4, seed=4)
    assert len(d.flow.set_reps) == 4 and d.port.names().count("add_rep") == 4


def test_a_paused_dowel_hinge_is_never_taken_for_a_pickup() -> None:
    # The hands stay up on the dowel at the bottom: nothing is gripped, however long the pause.
    d = _bell_set("hinge", 0.0, [2.0, 0.3, 0.3, 0.3], seed=5, arms="dowel")
    assert d.engines["hinge"].counter.count == 4 and len(d.flow.set_reps) == 4


def test_a_lone_movement_held_like_a_pickup_counts_when_nothing_follows() -> None:
    # A lone pull with a grip at the bottom (a heavy single) and a pickup before walking off look
    # the same; the counter had it as a rep, and so does the history once the session ends.
    d = _bell_set("kettlebell-deadlift", 0.0, [1.8], seed=6)
    assert d.flow.set_reps == [] and d.flow.screen is Screen.ACTIVE  # waiting for the next rep to tell
    assert d.flow.held_back is not None and d.flow.held_back.hold_s > 1.5
    d.nobody(d.flow.settings.idle_timeout_s + 1.0)
    assert d.flow.screen is Screen.ATTRACT and d.flow.held_back is None
    assert d.port.names() == ["start_session", "start_set", "add_rep", "end_set", "end_session"]


def test_a_set_cut_short_leaves_out_the_bell_put_down_before_walking_away() -> None:
    rng = np.random.default_rng(7)
    specs = tuple(RepSpec(bottom_s=float(rng.uniform(0.05, 0.5)), rest_s=1.0) for _ in range(5))
    d = _kb_driver(set_size=10)
    d.perform(
        Scenario(reps=specs, drill="kettlebell-deadlift", pickup_s=1.5, setdown_s=1.5, stand_s=3.0, seed=7)
    )
    assert d.engines["kettlebell-deadlift"].counter.count == 7  # pickup + 5 reps + set-down
    assert len(d.flow.set_reps) == 5  # the set-down waits: a rep after it would make it a rep
    d.nobody(d.flow.settings.idle_timeout_s + 1.0)
    assert d.port.names().count("add_rep") == 5 and d.port.names()[-2:] == ["end_set", "end_session"]


def test_a_slow_rep_in_the_middle_of_a_set_counts_once_the_next_rep_comes() -> None:
    d = _bell_set("kettlebell-deadlift", 0.0, [0.2, 0.3, 2.0, 0.3, 0.2], seed=8)
    assert [r.index for r in d.flow.set_reps] == [1, 2, 3, 4, 5]
    assert d.flow.set_reps[2].hold_s > 1.5


def test_drills_without_a_bell_never_hold_a_paused_rep_back() -> None:
    d = _bell_set("kneeling-hinge", 0.0, [1.0, 0.3, 0.3, 0.3, 0.3], seed=9)
    assert d.engines["kneeling-hinge"].counter.count == 5 and len(d.flow.set_reps) == 5


def test_after_a_slow_pickup_the_counter_turned_away_a_paused_first_rep_counts() -> None:
    # The counter already turned the 6 s pickup away: the bell is in the hands, so the first rep's
    # pause cannot be another pickup.
    d = _bell_set("kettlebell-deadlift", 6.0, [1.0, 0.3, 0.3, 0.3, 0.3], seed=9)
    assert d.engines["kettlebell-deadlift"].counter.count == 5 and len(d.flow.set_reps) == 5


def test_a_bell_put_down_and_picked_up_again_mid_set_adds_no_rep() -> None:
    d = _kb_driver(set_size=10)
    first = tuple(RepSpec(bottom_s=b, rest_s=1.0) for b in (0.2, 0.4, 0.3, 0.2))
    d.perform(
        Scenario(reps=first, drill="kettlebell-deadlift", pickup_s=1.5, setdown_s=1.5, stand_s=3.0, seed=7)
    )
    d.perform(Scenario(reps=first, drill="kettlebell-deadlift", pickup_s=1.5, stand_s=4.0, seed=7))
    assert d.engines["kettlebell-deadlift"].counter.count == 11  # 8 reps, 2 pickups, 1 set-down
    assert len(d.flow.set_reps) == 8


def test_a_bell_put_down_late_after_a_full_set_leaves_the_rest_up_and_opens_no_set() -> None:
    # After the set, the lifter holds the bell a while, then puts it down: past the set-down grace,
    # but held like a set-up, so the summary and the replay stay, and no set 2 is written.
    d = _kb_driver(set_size=3, set_count=2, rest_s=60.0)
    specs = (RepSpec(bottom_s=0.2), RepSpec(bottom_s=0.3), RepSpec(bottom_s=0.2, rest_s=5.0))
    d.perform(Scenario(reps=specs, drill="kettlebell-deadlift", setdown_s=1.5, stand_s=3.0, seed=5))
    assert d.engines["kettlebell-deadlift"].counter.count == 4 and len(d.flow.sets) == 1
    assert d.flow.screen is Screen.REST and d.flow.set_number == 1
    d.nobody(d.flow.settings.idle_timeout_s + 1.0)
    assert d.port.names().count("start_set") == 1 and d.port.names().count("add_rep") == 3


@pytest.mark.parametrize("rest_s", [4.0, 60.0])  # the rest over before the pickup, or still running
def test_after_a_quick_set_down_the_next_sets_pickup_is_not_a_rep(rest_s: float) -> None:
    d = _kb_driver(set_size=3, set_count=2, rest_s=rest_s)
    specs = (RepSpec(bottom_s=0.2), RepSpec(bottom_s=0.3), RepSpec(bottom_s=0.2, rest_s=0.3))
    d.perform(
        Scenario(reps=specs, drill="kettlebell-deadlift", pickup_s=1.5, setdown_s=1.5, stand_s=3.0, seed=5)
    )
    assert len(d.flow.sets) == 1 and d.port.names().count("add_rep") == 3  # the set-down counted nowhere
    d.perform(Scenario(reps=specs, drill="kettlebell-deadlift", pickup_s=1.5, stand_s=8.0, seed=5))
    assert d.flow.screen is Screen.DONE
    assert [len(s.reps) for s in d.flow.sets] == [3, 3]
    assert all(r.hold_s < 1.2 for s in d.flow.sets for r in s.reps)  # no pickup among them


def test_a_drill_chosen_but_never_started_goes_back_to_the_choice_after_an_idle_minute() -> None:
    # The visitor picks a drill by pose, the set starts, and no rep ever comes: the next person
    # still gets the choice, starting from the configured drill.
    settings = FlowSettings(drill_select="pose", set_size=5, countdown_s=0.0, inactive_s=30.0)
    d = Driver(settings)
    stand_s = 2.0 + 3.0 + settings.choose_start_s + 1.5
    d.perform(Scenario(reps=(), stand_s=stand_s, seed=9), edit=raise_hand(2.0, 5.0))
    assert d.flow.screen is Screen.ACTIVE and d.flow.drill == "wall-hinge"
    _standing_still(d, settings.inactive_s + 2.0)
    assert d.flow.screen is Screen.CHOOSE and d.flow.drill == "hinge" and d.port.drill == "hinge"
    assert "start_session" not in d.port.names()  # nobody lifted: nothing in the history
