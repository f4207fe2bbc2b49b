"""Every screen rendered on SDL's dummy driver, checked by what is drawn: pixels and strings.

The canvas records the strings it draws (and where); the tests check those and read pixels back:
the dowel line's colour at the ear, shoulder and hip, the cue's words in the banner, the counter.
Windowed sizes only: the dummy driver's fullscreen is always 1024x768.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pygame
import pytest

from kiosk.body import CHAINS
from kiosk.coach import CUES
from kiosk.demo import FigurePainter
from kiosk.display import CameraStatus, Display, Progress, Scene, open_display
from kiosk.display import theme as th
from kiosk.display.gfx import RING_CACHE
from kiosk.display.widgets import replay_time
from kiosk.engine import HingeEngine
from kiosk.flow import Flow, FlowSettings, FrameSnapshot, Screen, SetReport
from kiosk.performer import Performer, RepSpec, Scenario
from kiosk.reps import Phase
from kiosk.store import DayTotal, SetSummary
from tests.test_flow import RecordingPort, _rep

FPS = 30.0
FRAME = (640, 480)
SIZES = [(1280, 720), (720, 1280), (800, 600), (1920, 1080)]


@pytest.fixture
def display(request: pytest.FixtureRequest) -> Iterator[Display]:
    size = getattr(request, "param", (1280, 720))
    d = open_display(size, fullscreen=False)
    yield d
    d.close()


def run_until(settings: FlowSettings, scenario: Scenario, stop) -> tuple[Flow, FrameSnapshot, np.ndarray]:
    """Perform `scenario` through engine and flow until `stop(flow, snap)`; the picture of that frame."""
    perf = Performer(scenario)
    port = RecordingPort()
    flow = Flow(settings, port)
    engine = HingeEngine(settings.drill, frame_size=scenario.frame_size)
    painter = FigurePainter(scenario.frame_size, perf.body_px, perf.floor_y, scenario.facing)
    for i in range(round(perf.duration_s * FPS)):
        t = i / FPS
        snap = FrameSnapshot.from_result(engine.step(perf.pose_at(t), t), settings.drill)
        flow.step(snap)
        if stop(flow, snap):
            return flow, snap, painter.paint(perf.clean_pose_at(t))
    raise AssertionError("the scenario ended before the wanted moment")


def draw(d: Display, scene: Scene) -> tuple[pygame.Surface, list[tuple[str, pygame.Rect]]]:
    d.canvas.recorder = []
    d.draw(scene)
    d.present()
    return d.canvas.snapshot(), d.canvas.recorder


def texts(recorded: list[tuple[str, pygame.Rect]]) -> list[str]:
    return [t for t, _ in recorded]


def color_at(surface: pygame.Surface, x: float, y: float) -> tuple[int, int, int]:
    c = surface.get_at((round(x), round(y)))
    return c.r, c.g, c.b


SET = FlowSettings(set_size=4, set_count=2, rest_s=30.0, countdown_s=0.0)
ROUNDED = Scenario(
    reps=(RepSpec(), RepSpec(fault="rounded_back", bottom_s=1.0), RepSpec(), RepSpec(), RepSpec()),
    stand_s=3.0,
    frame_size=FRAME,
    seed=4,
)


def rounded_bottom(flow: Flow, snap: FrameSnapshot) -> bool:
    """The bottom of the rounded rep (the second), with its cue on screen."""
    return (
        flow.screen is Screen.ACTIVE
        and len(flow.set_reps) == 1
        and snap.phase is Phase.DESCENDING
        and snap.cue is not None
        and snap.cue.id == "rounded_back"
    )


def clean_bottom(flow: Flow, snap: FrameSnapshot) -> bool:
    return flow.screen is Screen.ACTIVE and not flow.set_reps and snap.depth > 0.8


@pytest.mark.parametrize("display", [(1280, 720), (720, 1280)], indirect=True)
@pytest.mark.parametrize("mirror", [True, False])
@pytest.mark.parametrize("converted_smaller", [False, True])
def test_dowel_line_is_orange_at_a_rounded_back_and_sits_on_the_body(
    display: Display, mirror: bool, converted_smaller: bool
) -> None:
    flow, snap, picture = run_until(SET, ROUNDED, rounded_bottom)
    assert snap.alignment > 0.08
    scene = Scene(flow=flow, frame=picture, snap=snap, mirror=mirror)
    if converted_smaller:  # as `Frame.picture_for` hands over a large video frame: the points stay put
        scene.frame, scene.frame_size = np.ascontiguousarray(picture[::3, ::3]), FRAME
    surface, recorded = draw(display, scene)
    rect = display.screens.camera_rect
    scale = rect.w / FRAME[0]
    chain = CHAINS[snap.side]

    def on_screen(x: float, y: float) -> tuple[float, float]:
        return rect.x + ((FRAME[0] - x) if mirror else x) * scale, rect.y + y * scale

    for part in (chain.ear, chain.shoulder, chain.hip):
        sx, sy = on_screen(float(snap.pose[part, 0]), float(snap.pose[part, 1]))
        assert color_at(surface, sx, sy) == th.BAD, f"{part} at {(sx, sy)}"
    for a, b in ((chain.ear, chain.shoulder), (chain.shoulder, chain.hip)):  # the line between
        sx, sy = on_screen(*((snap.pose[a, :2] + snap.pose[b, :2]) / 2.0))
        assert color_at(surface, sx, sy) == th.BAD, f"between {a} and {b} at {(sx, sy)}"
    # The cue names the fault in words, in the banner.
    cue = CUES["rounded_back"].text
    banner = display.layout.cue
    drawn = " ".join(t for t, r in recorded if banner.contains(r))
    assert drawn == cue


@pytest.mark.parametrize("display", [(1280, 720)], indirect=True)
def test_dowel_line_is_blue_on_a_flat_back(display: Display) -> None:
    flow, snap, picture = run_until(SET, ROUNDED, clean_bottom)
    assert abs(snap.alignment) < 0.04
    surface, _ = draw(display, Scene(flow=flow, frame=picture, snap=snap))
    view = display.screens.camera_view
    chain = CHAINS[snap.side]
    for part in (chain.ear, chain.shoulder, chain.hip):
        assert color_at(surface, *view.point(snap.pose, part)) == th.GOOD
    for a, b in ((chain.ear, chain.shoulder), (chain.shoulder, chain.hip)):  # the line between
        (ax, ay), (bx, by) = view.point(snap.pose, a), view.point(snap.pose, b)
        assert color_at(surface, (ax + bx) / 2, (ay + by) / 2) == th.GOOD


@pytest.mark.parametrize("display", SIZES, indirect=True)
def test_counter_and_score_strip_show_the_set(display: Display) -> None:
    flow, snap, picture = run_until(
        SET,
        ROUNDED,
        lambda f, s: f.screen is Screen.ACTIVE and len(f.set_reps) == 3 and s.phase is Phase.STANDING,
    )
    surface, recorded = draw(display, Scene(flow=flow, frame=picture, snap=snap))
    counter = display.layout.counter
    in_counter = [t for t, r in recorded if counter.contains(r)]
    assert "3" in in_counter and f"/ {SET.set_size}" in in_counter
    assert f"{flow.clean} clean" in in_counter and f"{flow.faulted} to fix" in in_counter
    assert flow.faulted == 1
    strip = display.layout.strip
    scores = [t for t, r in recorded if strip.contains(r)]
    for rep in flow.set_reps:
        assert str(rep.score) in scores
    # The faulted rep's chip is orange (dimmed: it is not the latest), the latest clean one blue.
    faulted = str(flow.set_reps[1].score)
    assert th.mix(th.BAD, th.PANEL, 0.22) in {
        color_at(surface, r.x - 2, r.centery) for t, r in recorded if t == faulted
    }
    latest = next(r for t, r in reversed(recorded) if t == str(flow.set_reps[2].score) and strip.contains(r))
    assert color_at(surface, latest.x - 2, latest.centery) == th.GOOD


@pytest.mark.parametrize("display", SIZES, indirect=True)
def test_every_screen_renders_inside_the_screen(display: Display) -> None:
    """All screens, at every size: the expected words are drawn and no text leaves the screen."""
    w, h = display.size
    screen_rect = pygame.Rect(0, 0, w, h)
    progress = _progress()
    expected = {
        Screen.ATTRACT: "Learn the hip hinge",
        Screen.PROGRESS: "Today at the mirror",
        Screen.PLACEMENT: "Side-on",
        Screen.CHOOSE: "Choose a drill",
        Screen.ACTIVE: "REPS",
        Screen.REST: "Set 1 done",
        Screen.DONE: "Session complete",
    }
    states = _states()
    for screen, (flow, snap, picture) in states.items():
        scene = Scene(flow=flow, frame=picture, snap=snap, progress=progress, demo="Animated stand-in")
        scene.now = flow.t + 1.0
        _, recorded = draw(display, scene)
        drawn = texts(recorded)
        assert expected[screen] in drawn, screen
        assert "DEMO" in drawn
        for text, rect in recorded:
            assert screen_rect.contains(rect), f"{screen.value}: {text!r} at {rect} leaves {w}x{h}"


@pytest.fixture(scope="module")
def _state_cache() -> dict:
    return {}


def _states() -> dict[Screen, tuple[Flow, FrameSnapshot | None, np.ndarray | None]]:
    """One flow per screen, at a moment that shows it."""
    if _STATES:
        return _STATES
    small = FlowSettings(set_size=2, set_count=2, rest_s=30.0, countdown_s=0.0, attract_s=1.0)
    scenario = Scenario(
        reps=(RepSpec(), RepSpec(fault="rounded_back", rest_s=12.0), RepSpec(fault="squatting"), RepSpec()),
        stand_s=3.0,
        frame_size=FRAME,
        seed=3,
    )
    _STATES[Screen.PLACEMENT] = run_until(
        small, scenario, lambda f, s: f.screen is Screen.PLACEMENT and s.person
    )
    _STATES[Screen.ACTIVE] = run_until(
        small, scenario, lambda f, s: f.screen is Screen.ACTIVE and s.depth > 0.5
    )
    _STATES[Screen.REST] = run_until(small, scenario, lambda f, s: f.screen is Screen.REST)
    _STATES[Screen.DONE] = run_until(small, scenario, lambda f, s: f.screen is Screen.DONE)
    choose = FlowSettings(drill_select="pose", set_size=2)
    _STATES[Screen.CHOOSE] = run_until(choose, scenario, lambda f, s: f.screen is Screen.CHOOSE)
    idle = Flow(small, RecordingPort())
    idle.tick(0.0)
    _STATES[Screen.ATTRACT] = (idle, None, None)
    idle2 = Flow(small, RecordingPort())
    idle2.tick(0.0)
    idle2.tick(1.5)
    assert idle2.screen is Screen.PROGRESS
    _STATES[Screen.PROGRESS] = (idle2, None, None)
    return _STATES


_STATES: dict[Screen, tuple[Flow, FrameSnapshot | None, np.ndarray | None]] = {}


def _progress() -> Progress:
    now = time.time()
    today = [
        SetSummary(
            i,
            1,
            i,
            "hinge",
            now - 900 * i,
            now - 900 * i + 60,
            10,
            10,
            78.0 + 4 * i,
            96.0,
            1.2,
            1.0,
            6,
            (("rounded_back", 2),) if i == 1 else (),
        )
        for i in range(1, 4)
    ]
    days = [
        DayTotal(datetime.date.today() - datetime.timedelta(days=6 - i), i % 3, 10 * (i % 3), 80.0)
        for i in range(7)
    ]
    return Progress(today, today, days)


@pytest.mark.parametrize("display", [(1280, 720)], indirect=True)
def test_progress_screen_shows_todays_sets(display: Display) -> None:
    flow, _, _ = _states()[Screen.PROGRESS]
    progress = _progress()
    _, recorded = draw(display, Scene(flow=flow, progress=progress))
    drawn = texts(recorded)
    assert str(len(progress.today)) in drawn  # sets today
    assert "30" in drawn  # reps today
    assert "Hip hinge" in drawn and "10/10" in drawn
    assert "Today" in drawn  # the week chart
    # The recent sets read as a table: titles start in one column, counts end in one.
    titles = [r for t, r in recorded if t in ("Hip hinge", "Wall hinge", "Kettlebell deadlift")]
    counts = [r for t, r in recorded if re.fullmatch(r"\d+/\d+", t)]
    assert len(titles) >= 2 and len({r.x for r in titles}) == 1
    assert len(counts) == len(titles) and len({r.right for r in counts}) == 1


@pytest.mark.parametrize("display", [(1280, 720)], indirect=True)
def test_rest_screen_counts_down_and_replays_the_faulted_rep(display: Display) -> None:
    flow, snap, picture = _states()[Screen.REST]
    scene = Scene(flow=flow, frame=picture, snap=snap)
    clip = flow.set_clip
    assert clip.fault == "rounded_back"
    # A moment in the replay where it pauses on the fault, with the fault named in orange.
    elapsed = next(e / 10 for e in range(0, 400) if replay_time(clip, e / 10)[1])
    scene.now = flow.screen_since + elapsed
    surface, recorded = draw(display, scene)
    drawn = texts(recorded)
    left = round(flow.rest_left)
    assert f"{left // 60}:{left % 60:02d}" in drawn
    label = next(r for t, r in recorded if t == "Rounded back" and display.layout.replay.contains(r))
    colors = {color_at(surface, x, label.centery) for x in range(label.x, label.right)}
    assert th.BAD in colors


@pytest.mark.parametrize("display", [(1280, 720)], indirect=True)
def test_a_set_seen_too_obliquely_is_not_praised(display: Display) -> None:
    small = FlowSettings(set_size=2, set_count=2, rest_s=30.0, countdown_s=0.0)
    flow, snap, picture = run_until(
        small,
        Scenario(reps=(RepSpec(), RepSpec()), stand_s=3.0, frame_size=FRAME, seed=5),
        lambda f, s: f.screen is Screen.REST,
    )
    # The same set as if the lifter had turned toward the camera: counted, but nothing judged.
    unjudged = tuple(dataclasses.replace(r, judged=False) for r in flow.sets[-1].reps)
    flow.sets[-1] = dataclasses.replace(flow.sets[-1], reps=unjudged)
    flow.set_clip.rep = unjudged[-1]
    _, recorded = draw(display, Scene(flow=flow, frame=picture, snap=snap))
    drawn = texts(recorded)
    assert "Every rep clean. Excellent!" not in drawn and "Your best rep" not in drawn
    assert "Not judged: stand side-on to the camera" in drawn
    assert "–" in drawn  # no average score to show
    assert "Clean rep: well done" not in drawn and "Not judged: turn side-on" in drawn  # the replay


@pytest.mark.parametrize("display", [(1280, 720)], indirect=True)
def test_camera_lost_screen_shows_the_retry_countdown(display: Display) -> None:
    flow, snap, picture = _states()[Screen.ACTIVE]
    scene = Scene(flow=flow, frame=picture, snap=snap, camera=CameraStatus("/dev/video0: unplugged", 1.4))
    _, recorded = draw(display, scene)
    drawn = texts(recorded)
    assert "Camera disconnected" in drawn and "Trying again in 2 s" in drawn


def test_asleep_the_screen_is_black_whatever_the_scene_holds(display: Display) -> None:
    """Behind two-way glass a black screen is a plain mirror: no picture, header or notice."""
    idle, _, _ = _states()[Screen.ATTRACT]
    room = np.full((FRAME[1], FRAME[0], 3), 200, np.uint8)
    scene = Scene(flow=idle, frame=room, problems=("a problem",), store_error="disk full")
    lit, recorded = draw(display, scene)
    assert recorded and pygame.transform.average_color(lit)[:3] != (0, 0, 0)
    scene.asleep = True
    dark, recorded = draw(display, scene)
    assert recorded == [] and pygame.mask.from_threshold(dark, (0, 0, 0), (1, 1, 1, 255)).count() == (
        dark.get_width() * dark.get_height()
    )


@pytest.mark.parametrize("display", [(1280, 720)], indirect=True)
def test_configuration_and_history_problems_are_shown(display: Display) -> None:
    problem = "site.toml: session.set_size = 0: expected a whole number from 1 to 50; using the default 10"
    idle, _, _ = _states()[Screen.ATTRACT]
    _, recorded = draw(display, Scene(flow=idle, problems=(problem,), store_error="disk full"))
    drawn = " ".join(texts(recorded))
    assert "Settings problems" in drawn and "session.set_size" in drawn and "disk full" in drawn
    flow, snap, picture = _states()[Screen.ACTIVE]
    _, recorded = draw(display, Scene(flow=flow, frame=picture, snap=snap, problems=(problem,)))
    assert "Check settings" in texts(recorded)  # while someone trains: a badge, not the list


def _marked(d: Display) -> None:
    """Make `d` draw a red band along the top of its screens and a blue one along the bottom."""
    c = d.canvas
    w, h = d.size

    def marks(scene: Scene) -> None:
        c.clear()
        c.rect((0, 0, w, h // 10), (255, 0, 0))
        c.rect((0, h - h // 10, w, h // 10), (0, 0, 255))

    d.screens.draw = marks  # type: ignore[method-assign]


def test_a_portrait_layout_on_a_landscape_screen_is_turned_a_quarter_clockwise() -> None:
    d = open_display((1280, 720), fullscreen=False, orientation="portrait")
    try:
        assert d.turned and d.size == (720, 1280) and d.layout.portrait
        _marked(d)
        d.draw(Scene(flow=Flow(FlowSettings(), RecordingPort())))
        d.present()
        shot = d.canvas.snapshot()
        assert shot.get_size() == (1280, 720)  # the window, holding the turned picture
        # Turned clockwise, the portrait screen's top is on the window's right.
        assert color_at(shot, 1280 - 20, 360) == (255, 0, 0)
        assert color_at(shot, 20, 360) == (0, 0, 255)
    finally:
        d.close()


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_screenshots_are_upright_pngs(tmp_path, orientation: str) -> None:
    d = open_display((1280, 720), fullscreen=False, orientation=orientation)
    try:
        _marked(d)
        d.draw(Scene(flow=Flow(FlowSettings(), RecordingPort())))
        d.present()  # as the app does before it saves a screenshot
        image = pygame.image.load(str(d.screenshot(tmp_path / "marked.png")))
        w, h = d.size
        assert image.get_size() == (w, h) == ((720, 1280) if orientation == "portrait" else (1280, 720))
        assert color_at(image, w / 2, 10) == (255, 0, 0) and color_at(image, w / 2, h - 10) == (0, 0, 255)
    finally:
        d.close()


def test_good_and_bad_are_told_apart_without_red_green() -> None:
    assert th.alignment_color(0.0) == th.GOOD
    assert th.alignment_color(0.2) == th.BAD
    assert th.alignment_color(0.06) == th.WARN
    assert th.alignment_color(float("nan")) == th.FAINT
    # Blue against orange: blue dominates one, red the other.
    assert th.GOOD[2] > th.GOOD[0] and th.BAD[0] > th.BAD[2]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="finds SDL through /proc (Linux)")
def test_present_goes_through_sdl_without_the_gil(display: Display, monkeypatch: pytest.MonkeyPatch) -> None:
    # pygame's own present holds the GIL while SDL draws (software) or waits for vsync (GPU).
    import ctypes

    import kiosk.display as display_module

    sdl = display_module._sdl_library()
    assert isinstance(sdl, ctypes.CDLL) and not isinstance(sdl, ctypes.PyDLL)  # CDLL calls drop the GIL
    assert display_module._present_without_gil(display.window) is not None
    display.draw(Scene(flow=Flow(FlowSettings(), RecordingPort())))
    display.present()
    display.present()  # twice: the ctypes call leaves the renderer usable

    class Call:
        def __init__(self, result: object = None) -> None:
            self.result, self.args = result, []

        def __call__(self, *args: object) -> object:
            self.args.append(args)
            return self.result

    class FakeSDL:  # records what the display asks of SDL
        SDL_GetWindowFromID, SDL_GetRenderer, SDL_RenderPresent = Call(11), Call(22), Call()

    monkeypatch.setattr(display_module, "_sdl_library", FakeSDL)
    d = open_display((320, 240), fullscreen=False)
    try:
        d.present()
        assert FakeSDL.SDL_GetWindowFromID.args == [(d.window.id,)]
        assert FakeSDL.SDL_GetRenderer.args == [(11,)] and FakeSDL.SDL_RenderPresent.args == [(22,)]
    finally:
        d.close()


@pytest.mark.parametrize("mirror", [False, True])
def test_a_bgra_picture_draws_the_same_as_its_rgb_image(display: Display, mirror: bool) -> None:
    """Video frames reach the screen as BGRA (`Frame.picture_for`); the picture must not change."""
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    rgb[:, :100] = (250, 20, 20)  # red on the left, the camera's left
    bgra = np.empty((120, 200, 4), np.uint8)
    bgra[..., :3], bgra[..., 3] = rgb[..., ::-1], 255
    flow = Flow(FlowSettings(), RecordingPort())
    shown = []
    for picture in (rgb, bgra):
        surface, _ = draw(display, Scene(flow=flow, frame=picture, mirror=mirror))
        shown.append(pygame.surfarray.array3d(surface))
    assert np.array_equal(shown[0], shown[1])
    rect = display.screens.camera_rect
    x = rect.right - 3 if mirror else rect.left + 2  # the red half, mirrored or not
    r, g, b = (int(v) for v in shown[0][x, rect.centery])
    assert r > 3 * max(g, b, 1)  # red stays red (the attract screen dims it)


def test_without_sdl_in_reach_present_falls_back_to_pygame(monkeypatch: pytest.MonkeyPatch) -> None:
    import kiosk.display as display_module

    monkeypatch.setattr(display_module, "_sdl_library", lambda: None)
    d = open_display((320, 240), fullscreen=False)
    try:
        assert d._present == d.renderer.present
        d.draw(Scene(flow=Flow(FlowSettings(), RecordingPort())))
        d.present()
    finally:
        d.close()


def test_audio_hotplug_events_reach_the_app_and_keys_only_in_development(display: Display) -> None:
    display.events(dev_keys=True)  # whatever opening the window queued
    for event_type, capture in ((pygame.AUDIODEVICEREMOVED, 0), (pygame.AUDIODEVICEADDED, 0)):
        pygame.event.post(pygame.event.Event(event_type, which=0, iscapture=capture))
    pygame.event.post(pygame.event.Event(pygame.AUDIODEVICEADDED, which=1, iscapture=1))  # a microphone
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q))
    assert [a.action for a in display.events(dev_keys=False)] == ["audio-lost", "audio-found"]
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q))
    assert [a.action for a in display.events(dev_keys=True)] == ["quit"]


def test_a_closed_display_leaves_no_texture_behind() -> None:
    """SDL frees a window's textures with it: a texture object still alive then frees that memory
    again when it is collected, possibly under a newer display's texture (a test that failed now
    and then with "Parameter 'texture' is invalid")."""
    import gc

    from pygame._sdl2.video import Texture

    d = open_display((720, 1280), fullscreen=False, orientation="landscape")  # turned: a target texture
    flow, snap, picture = _states()[Screen.ACTIVE]
    draw(d, Scene(flow=flow, frame=picture, snap=snap, progress=_progress()))
    renderer = d.renderer

    def alive() -> int:
        return sum(isinstance(o, Texture) and o.renderer is renderer for o in gc.get_objects())

    assert alive() > 3  # text, shapes, the camera picture, the target
    d.close()
    assert alive() == 0


def test_no_praise_shows_over_a_rep_the_count_is_still_waiting_on(display: Display) -> None:
    # A clean bell pickup earns the coach's "Good rep!", but the count waits to see whether it was a rep.
    settings = FlowSettings(drill="kettlebell-deadlift", set_size=10, countdown_s=0.0)
    scenario = Scenario(
        reps=(RepSpec(), RepSpec()), drill="kettlebell-deadlift", pickup_s=1.5, stand_s=3.0, seed=4
    )
    flow, snap, picture = run_until(
        settings,
        scenario,
        lambda f, s: f.held_back is not None and s.cue is not None and s.cue.kind == "praise",
    )
    _, recorded = draw(display, Scene(flow=flow, frame=picture, snap=snap))
    assert snap.cue.text not in texts(recorded)
    flow._setups.held = None  # the same frame with nothing held back shows it
    _, recorded = draw(display, Scene(flow=flow, frame=picture, snap=snap))
    assert snap.cue.text in texts(recorded)


@pytest.mark.parametrize("display", [(1024, 768), (720, 1280), (1920, 1080)], indirect=True)
def test_the_faults_to_work_on_never_run_into_their_counts(display: Display) -> None:
    """The longest fault names beside "n of N" on the narrowest summary panels (at 1024x768 the
    names ran under their counts)."""
    flow = Flow(FlowSettings(set_size=10, set_count=1), RecordingPort())
    faults = ("head_out_of_line", "rounded_back", "weight_forward")
    reps = [_rep(i + 1, 60, (faults[i % 3],)) for i in range(9)]
    flow.sets = [SetReport(1, "hinge", 10, (*reps, _rep(10, 90, judged=False)))]
    flow.screen = Screen.DONE
    _, recorded = draw(display, Scene(flow=flow))
    names = {"Head out of line", "Rounded back", "Weight forward", "Not judged"}
    name_rects = [r for t, r in recorded if t in names]
    count_rects = [r for t, r in recorded if t in ("3 of 10", "1 of 10")]
    assert len(name_rects) == 4 and len(count_rects) == 4
    assert not any(a.colliderect(b) for a in name_rects for b in count_rects)
    assert "1 set done" in texts(recorded)


def test_arcs_cover_their_sweep_and_moving_ones_make_no_new_textures(display: Display) -> None:
    c = display.canvas
    c.clear(th.PANEL)
    center, radius, width = (300.0, 300.0), 120.0, 16.0
    c.arc(center, radius, width, 0.0, 360.0, th.TRACK)
    c.arc(center, radius, width, 0.0, 90.0, th.ACCENT)  # 12 o'clock to 3, clockwise
    display.present()
    surface = c.snapshot()

    def on_ring(deg: float) -> tuple[int, int, int]:
        a = math.radians(deg)
        return color_at(surface, center[0] + radius * math.sin(a), center[1] - radius * math.cos(a))

    assert all(on_ring(deg) == th.ACCENT for deg in (5, 45, 85))
    assert all(on_ring(deg) == th.TRACK for deg in (100, 180, 270, 355))
    c.clear(th.PANEL)
    c.arc(center, radius, width, 0.0, 200.0, th.ACCENT)  # two whole quarters and 20 degrees of lines
    display.present()
    surface = c.snapshot()
    assert all(on_ring(deg) == th.ACCENT for deg in (2, 88, 92, 178, 182, 198))
    assert all(on_ring(deg) == th.PANEL for deg in (215, 270, 340))
    assert color_at(surface, *center) == th.PANEL  # a ring, not a disc
    assert color_at(surface, center[0], center[1] - radius - width) == th.PANEL
    for step in range(400):  # a countdown ring sweeping down, frame by frame
        c.arc(center, radius, width, 0.0, 360.0 * (1.0 - step / 400.0), th.ACCENT)
    assert len(c._rings) == 2 <= RING_CACHE  # the track's ring and the accent's, made once each


def test_the_attract_screens_words_sit_on_the_dimmed_room_not_on_boxes(display: Display) -> None:
    """With a camera, the attract screen shows the empty room dimmed behind its words: text drawn as
    opaque copies on black would cut dark boxes out of it."""
    idle = Flow(FlowSettings(), RecordingPort())
    idle.tick(0.0)
    room = np.full((360, 640, 3), 200, np.uint8)  # the screen's shape: the room fills it
    surface, recorded = draw(display, Scene(flow=idle, frame=room, snap=None))
    behind = color_at(surface, display.size[0] // 2, display.size[1] // 2)
    assert behind != th.BLACK  # the room shows, dimmed
    words = [r for t, r in recorded if t in ("Learn the hip hinge", "Stand side-on", "Step back")]
    assert len(words) == 3
    for r in words:
        assert color_at(surface, r.x + 1, r.y + 1) == behind  # a glyph-free corner of the line box


@pytest.mark.parametrize("mirror", [True, False])
def test_plumb_lines_lean_with_the_configured_roll(display: Display, mirror: bool, tmp_path: Path) -> None:
    """`display.show_level` draws plumb lines over the picture, turned by `camera.roll_deg`: a
    positive roll leans their tops right in the camera's picture, so left on the mirrored screen."""
    flow = _states()[Screen.ACTIVE][0]
    picture = np.zeros((FRAME[1], FRAME[0], 3), np.uint8)

    def yellow(surface: pygame.Surface, x: float, y: float) -> bool:
        """The line's colour within 3 px across (the software renderer rounds a turned line)."""
        for dx in range(-3, 4):
            r, g, b = color_at(surface, x + dx, y)
            if r > 150 and g > 120 and b < 60:
                return True
        return False

    view = display.screens.camera_view
    for roll in (0.0, 10.0):
        surface, _ = draw(display, Scene(flow=flow, frame=picture, mirror=mirror, plumb_roll_deg=roll))
        lean = 0.5 * FRAME[1] * math.tan(math.radians(roll))
        width = max(3.0, display.screens.camera_rect.h * 0.005)
        for x in (FRAME[0] * k / 5 for k in range(1, 5)):
            for y in (0.1 * FRAME[1], 0.5 * FRAME[1], 0.9 * FRAME[1]):
                on = x + lean * (1 - 2 * y / FRAME[1])  # the line's x at this height
                assert yellow(surface, view.x(on), view.y(y)), (roll, x, y)
                assert not yellow(surface, view.x(on) + 2 * width + 8, view.y(y)), (roll, x, y)
    plain, _ = draw(display, Scene(flow=flow, frame=picture, mirror=mirror))
    rect = display.screens.camera_rect
    assert not yellow(plain, view.x(FRAME[0] / 5), rect.centery)


def test_lines_are_clipped_to_the_screen_so_a_wild_point_costs_nothing(display: Display) -> None:
    c = display.canvas
    w, h = c.width, c.height
    assert c.visible_part((-w, h / 2), (2 * w, h / 2), 0.0) == pytest.approx((1 / 3, 2 / 3))
    assert c.visible_part((-10.0, -10.0), (-5.0, h + 10.0), 2.0) is None  # beside the screen
    assert c.visible_part((0.0, math.nan), (10.0, 10.0), 0.0) is None
    # A diagonal from a million pixels away (drawn whole, the software renderer would turn a
    # 10^6-pixel line in memory): the part on screen is drawn, dashed or solid.
    far = (-1.0e6, -1.0e6 * h / w)
    for draw_line in (
        lambda: c.line(far, (w / 2, h / 2), 12, (255, 0, 0)),
        lambda: c.dashed(far, (w / 2, h / 2), 12, 40, (255, 0, 0)),
    ):
        c.clear()
        draw_line()
        display.present()
        shot = c.snapshot()
        on_line = [color_at(shot, w * f, h * f)[0] for f in np.linspace(0.02, 0.48, 24)]
        assert max(on_line) > 200 and color_at(shot, w * 0.75, h * 0.75) == (0, 0, 0)


@pytest.mark.parametrize("display", [(480, 800), (600, 1024), (1280, 720)], indirect=True)
def test_the_rest_timer_and_tip_never_cover_the_faults(display: Display) -> None:
    """Three faults and reps not judged on the Pi's 7-inch screen turned upright: the list gives way
    to the timer and the tip (they were drawn over its last rows)."""
    flow = Flow(FlowSettings(set_size=10, set_count=2, rest_s=30.0), RecordingPort())
    faults = ("rounded_back", "squatting", "weight_forward", "rounded_back")
    reps = [_rep(i + 1, 60, (faults[i],)) for i in range(4)] + [_rep(i + 5, 90) for i in range(5)]
    flow.sets = [SetReport(1, "hinge", 10, (*reps, _rep(10, 90, judged=False)))]
    flow.screen, flow.rest_until = Screen.REST, flow.t + 30.0
    _, recorded = draw(display, Scene(flow=flow))
    names = {"Rounded back", "Squatting", "Weight forward", "Not judged"}
    rows = [r for t, r in recorded if t in names or t.endswith(" of 10")]
    tip = CUES["rounded_back"].text  # the most common fault's cue, wrapped into lines
    below = [
        r
        for t, r in recorded
        if t in ("Next set", "next set", tip) or t in tip or re.fullmatch(r"\d+:\d\d", t)
    ]
    assert len(rows) >= 4 and len(below) >= 4
    assert all(r.collidelist(rows) < 0 for r in below)


@pytest.mark.parametrize("display", [(1024, 768), (800, 600), (320, 240)], indirect=True)
def test_the_progress_title_fits_beside_the_chart_on_a_four_by_three_screen(display: Display) -> None:
    flow, _, _ = _states()[Screen.PROGRESS]
    _, recorded = draw(display, Scene(flow=flow, progress=_progress()))
    title = next(r for t, r in recorded if t == "Today at the mirror")
    assert not [t for t, r in recorded if t != "Today at the mirror" and r.colliderect(title)]


def test_a_word_longer_than_the_line_is_broken_not_cut_off(display: Display) -> None:
    c = display.canvas
    path = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_0F1E2D3C-video-index0"
    lines = c.wrap(f"Camera {path} stopped delivering frames", 40, 300)
    assert "".join(lines).replace(" ", "") == f"Camera{path}stoppeddeliveringframes"
    assert all(c.text_size(line, 40)[0] <= 300 for line in lines) and len(lines) >= 4


@pytest.mark.parametrize("display", [(480, 800)], indirect=True)
def test_a_session_summary_with_more_sets_than_fit_says_how_many_more(display: Display) -> None:
    flow = Flow(FlowSettings(set_size=5, set_count=10), RecordingPort())
    flow.sets = [SetReport(i + 1, "hinge", 5, tuple(_rep(k + 1, 80) for k in range(5))) for i in range(10)]
    flow.screen = Screen.DONE
    _, recorded = draw(display, Scene(flow=flow))
    drawn = texts(recorded)
    listed = [t for t in drawn if t.startswith("Set ") and "clean" in t]
    more = [t for t in drawn if t.startswith("and ") and t.endswith(" more sets")]
    assert more == [f"and {10 - len(listed)} more sets"] and len(listed) < 10


def test_the_number_keys_pick_every_drill_in_its_listed_order() -> None:
    from kiosk.display import DEV_KEYS
    from kiosk.drills import DRILLS

    drills = [(key, a.arg) for key, a in DEV_KEYS.items() if a.action == "drill"]
    assert drills == [(pygame.K_1 + i, name) for i, name in enumerate(DRILLS)]
