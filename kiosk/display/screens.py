"""The screens: what the mirror shows for each state of the flow, composed from widgets.

`Screens.draw` draws one whole frame from a `Scene` (everything the display needs, filled in by the
app each loop). During a set the picture is bright and the overlays are the coaching; when nobody is
there it is dimmed behind the panels. The summaries between sets fill the screen with panels on
black: a dimmed picture showing through the gaps between them looked like a glitch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pygame

from kiosk.body import Side, X
from kiosk.coach import CUES
from kiosk.display import theme as th
from kiosk.display import widgets as w
from kiosk.display.gfx import WHITE, Canvas
from kiosk.display.layout import Layout
from kiosk.drills import DRILLS, get_drill
from kiosk.flow import Flow, FrameSnapshot, ReplayClip, Screen, SetReport
from kiosk.reps import FAULT_NAMES, Phase
from kiosk.store import DayTotal, SetSummary

PRODUCT = "Hinge Mirror"
NOTICE = (44, 34, 0)  # the background of configuration and history notices
ATTRACT_TINT = (45, 45, 45)


@dataclass
class Progress:
    """History for the progress screen, read from the session store in the background."""

    today: list[SetSummary] = field(default_factory=list)
    recent: list[SetSummary] = field(default_factory=list)
    days: list[DayTotal] = field(default_factory=list)


@dataclass
class CameraStatus:
    """Set while no frames arrive: what went wrong and when the next attempt is."""

    message: str
    retry_in_s: float


@dataclass
class Scene:
    """Everything one frame of the display shows; the app updates it in place every loop."""

    flow: Flow
    mirror: bool = True
    now: float = 0.0  # monotonic seconds, for animations
    # The camera picture the snapshot was estimated on: RGB (H, W, 3) or BGRA (H, W, 4), as
    # `Frame.picture_for`, which may scale it down to the size it is shown at ...
    frame: np.ndarray | None = None
    # ... so this is the frame's own size (width, height), the pixels its keypoints are in; None when
    # the picture is at that size.
    frame_size: tuple[int, int] | None = None
    snap: FrameSnapshot | None = None
    demo: str = ""  # non-empty in demo mode: why ("no camera found", "--demo")
    problems: tuple[str, ...] = ()  # configuration problems (each already fell back to a default)
    store_error: str = ""
    camera: CameraStatus | None = None
    progress: Progress = field(default_factory=Progress)
    diagnostics: str = ""  # the show_fps line
    plumb_roll_deg: float | None = None  # plumb lines over the picture at this roll (display.show_level)
    asleep: bool = False  # nobody for display.sleep_after_s: a black screen (a plain mirror)


class Screens:
    """Draws scenes on one canvas; keeps the per-screen state (views, the attract animation)."""

    def __init__(self, canvas: Canvas, layout: Layout) -> None:
        self.canvas = canvas
        self.layout = layout
        self.camera_view = w.View()
        self.figure_view = w.View()
        self.camera_rect = pygame.Rect(0, 0, 0, 0)
        self._attract: tuple[np.ndarray, np.ndarray] | None = None
        self._checklist_flipped = False  # the placement checklist moved across, clear of the person
        # Made once, not per frame: what draws each screen, and where its picture goes.
        self._draw_screen = {
            Screen.ATTRACT: self._attract_screen,
            Screen.PROGRESS: self._progress_screen,
            Screen.PLACEMENT: self._placement_screen,
            Screen.CHOOSE: self._choose_screen,
            Screen.ACTIVE: self._active_screen,
            Screen.REST: self._rest_screen,
            Screen.DONE: self._done_screen,
        }
        stage = layout.stage
        self._picture_area = {
            Screen.PLACEMENT: stage,
            Screen.ACTIVE: stage,
            Screen.CHOOSE: layout.choose_stage,
        }

    # ------------------------------------------------------------------------------ frame

    def draw(self, scene: Scene) -> None:
        """One whole frame: the picture, the screen of the flow's state, header and notices."""
        c, L = self.canvas, self.layout
        c.clear(th.BLACK)
        if scene.asleep:
            return
        screen = scene.flow.screen
        idle = screen in (Screen.ATTRACT, Screen.PROGRESS)
        if scene.camera is not None:  # nothing works without it, whatever the screen
            self._camera_lost(scene.camera)
        else:
            self._picture(scene, screen)
            self._draw_screen[screen](scene)
        self._header(scene)
        self._notices(scene, idle)
        if scene.diagnostics:
            c.text(
                scene.diagnostics,
                L.px(th.LABEL),
                th.MUTED,
                (L.size[0] - L.margin, L.size[1] - L.px(4)),
                "bottomright",
                bold=False,
            )

    def picture_rect(self, frame_size: tuple[int, int], screen: Screen) -> pygame.Rect | None:
        """Where the camera picture of a frame of `frame_size` goes on `screen`; None: not shown."""
        if screen in (Screen.REST, Screen.DONE):
            return None
        L = self.layout
        return L.camera_rect(*frame_size, self._picture_area.get(screen, L.screen))

    def _picture(self, scene: Scene, screen: Screen) -> None:
        frame = scene.frame
        if frame is None:
            return
        wd, h = scene.frame_size or (frame.shape[1], frame.shape[0])
        rect = self.picture_rect((wd, h), screen)
        if rect is None:
            return
        self.camera_rect = rect
        self.camera_view.set(wd, h, rect, scene.mirror)
        tint = ATTRACT_TINT if screen in (Screen.ATTRACT, Screen.PROGRESS) else WHITE
        self.canvas.camera(frame, rect, scene.mirror, tint)
        if scene.plumb_roll_deg is not None:
            width = max(3.0, rect.h * 0.005)
            w.plumb_lines(self.canvas, self.camera_view, (wd, h), scene.plumb_roll_deg, width)

    def _line_width(self) -> float:
        return max(3.0, self.camera_rect.h * 0.0095)

    # ------------------------------------------------------------------------------ chrome

    def _header(self, scene: Scene) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        flow = scene.flow
        hdr = L.header
        screen = flow.screen
        if screen in (Screen.ATTRACT, Screen.PROGRESS) or scene.camera is not None:
            title, sub = PRODUCT, "Hip hinge coach"
        else:
            drill = get_drill(flow.drill)
            title = drill.title
            if screen is Screen.ACTIVE:
                sub = f"Set {flow.set_number} of {flow.settings.set_count}"
            elif screen is Screen.REST:
                sub = f"Set {flow.set_number} of {flow.settings.set_count} done"
            elif screen is Screen.DONE:
                n = len(flow.sets)
                sub = f"{n} set{'' if n == 1 else 's'} done"
            else:
                sub = ""
        c.panel(hdr, th.PANEL)
        right = hdr.right - px(20)
        if scene.demo:
            right = self._demo_badge(scene.demo, right, hdr)
        size = c.fit(title, px(th.HEADLINE), (right - hdr.x) * 0.6)
        title_right = c.text(title, size, th.INK, (hdr.x + px(28), hdr.centery), "midleft", bg=th.PANEL).right
        if sub:
            sub_size = px(th.BODY)
            space = right - title_right - px(60)
            if c.text_size(sub, sub_size, False)[0] <= space:
                c.text(
                    sub,
                    sub_size,
                    th.MUTED,
                    (title_right + px(36), hdr.centery),
                    "midleft",
                    bold=False,
                    bg=th.PANEL,
                )

    def _demo_badge(self, note: str, right: int, hdr: pygame.Rect) -> int:
        """The DEMO label (and why) at the header's right; returns where free space ends."""
        c, L = self.canvas, self.layout
        px = L.px
        size = px(th.SMALL)
        tw, _ = c.text_size("DEMO", size)
        badge = pygame.Rect(0, 0, tw + px(40), hdr.h - px(26))
        badge.midright = (right, hdr.centery)
        c.panel(badge, th.DEMO, 255, radius=badge.h // 2)
        c.text("DEMO", size, th.BLACK, badge.center, "center", bg=th.DEMO)
        note_size = px(th.LABEL)
        nw, _ = c.text_size(note, note_size, False)
        if nw < hdr.w * 0.4:
            c.text(
                note, note_size, th.DEMO, (badge.x - px(16), hdr.centery), "midright", bold=False, bg=th.PANEL
            )
            return badge.x - px(16) - nw - px(24)
        return badge.x - px(24)

    def _notices(self, scene: Scene, idle: bool) -> None:
        """Configuration problems and history errors: in full while nobody trains, a badge otherwise."""
        c, L = self.canvas, self.layout
        px = L.px
        if not (scene.problems or scene.store_error):
            return
        size = px(th.LABEL)
        if not idle:
            what = [w for w, on in (("settings", scene.problems), ("history", scene.store_error)) if on]
            text = "Check " + " and ".join(what)
            tw, h = c.text_size(text, size)
            badge = pygame.Rect(0, 0, tw + px(30), h + px(12))
            badge.topright = (L.header.right, L.header.bottom + px(8))
            c.panel(badge, th.WARN, radius=badge.h // 2)
            c.text(text, size, th.BLACK, badge.center, "center", bg=th.WARN)
            return
        lines: list[tuple[str, th.Color, bool]] = []
        if scene.problems:
            lines.append(("Settings problems: the defaults are in use for these", th.WARN, True))
            lines += [(p, th.INK, False) for p in scene.problems[:3]]
            if len(scene.problems) > 3:
                lines.append(
                    (f"and {len(scene.problems) - 3} more: run hinge-kiosk config check", th.MUTED, False)
                )
        if scene.store_error:
            lines.append(("History is not being saved", th.WARN, True))
            lines.append((scene.store_error, th.INK, False))
        box_w = L.size[0] - 2 * L.margin
        wrapped: list[tuple[str, th.Color, bool]] = []
        for text, color, bold in lines:
            wrapped += [(part, color, bold) for part in c.wrap(text, size, box_w - px(48), bold)]
        wrapped = wrapped[:8]
        step = c.line_height(size)
        box = pygame.Rect(L.margin, 0, box_w, step * len(wrapped) + px(28))
        box.bottom = L.size[1] - L.margin
        c.panel(box, NOTICE)
        c.outline(box, th.WARN, max(2, px(3)))
        y = box.y + px(14)
        for text, color, bold in wrapped:
            c.text(text, size, color, (box.x + px(24), y), bold=bold, bg=NOTICE)
            y += step

    # ------------------------------------------------------------------------------ idle

    def _attract_screen(self, scene: Scene) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        W, H = L.size
        top = L.header.bottom + px(40)
        prompt = "Step in, side-on, to start"
        prompt_size = px(th.HEADLINE)
        if L.portrait:
            col = pygame.Rect(L.margin + px(40), top, W - 2 * L.margin - px(80), H)
            y = self._attract_text(col, center=True)
            steps_h = px(420)
            prompt_y = H - L.margin - px(30) - c.line_height(prompt_size)
            steps = pygame.Rect(col.x, prompt_y - px(40) - steps_h, col.w, steps_h)
            stage = pygame.Rect(col.x, y + px(30), col.w, steps.y - px(40) - y - px(30))
            prompt_pos = (W // 2, prompt_y)
        else:
            col = pygame.Rect(L.margin + px(40), top, W // 2 - L.margin - px(60), H)
            y = self._attract_text(col, center=False)
            steps = pygame.Rect(col.x, y + px(50), col.w, H - L.margin - px(40) - y - px(50))
            stage = pygame.Rect(W // 2 + px(20), top, W // 2 - L.margin - px(40), H - top - px(170))
            prompt_pos = (stage.centerx, stage.bottom + px(40))
        self._how_to_stand(steps)
        self._attract_figure(stage, scene.now)
        pulse = 0.5 + 0.5 * math.sin(scene.now * 3.0)
        size = c.fit(prompt, prompt_size, W - 2 * L.margin if L.portrait else W // 2 - L.margin)
        c.text(prompt, size, th.ACCENT, prompt_pos, "midtop", alpha=round(140 + 115 * pulse))

    def _attract_text(self, col: pygame.Rect, center: bool) -> int:
        """The title and the promise; returns the y below them."""
        c, L = self.canvas, self.layout
        px = L.px
        title = "Learn the hip hinge"
        size = c.fit(title, px(th.TITLE), col.w)
        anchor, x = ("midtop", col.centerx) if center else ("topleft", col.x)
        y = c.text(title, size, th.INK, (x, col.y), anchor).bottom + px(10)
        body = "A coach that watches you from the side and corrects you rep by rep, out loud."
        size, lines = c.fit_lines(body, px(th.BODY), col.w, 3, bold=False)
        for line in lines:
            y = c.text(line, size, th.MUTED, (x, y), anchor, bold=False).bottom
        return y

    def _how_to_stand(self, rect: pygame.Rect) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        steps = (
            ("Stand side-on", "one shoulder toward the mirror"),
            ("Step back", "until head to feet are in view"),
            ("Hinge", "hips back, back flat, then stand tall"),
        )
        head_size, detail_size = px(th.HEADLINE), px(th.SMALL)
        row = min(rect.h / len(steps), c.line_height(head_size) + c.line_height(detail_size, False) + px(30))
        r = px(36)
        for i, (head, detail) in enumerate(steps):
            y = rect.y + i * row
            c.disc((rect.x + r, y + r), r, th.ACCENT)
            c.text(str(i + 1), px(th.BODY), th.BLACK, (rect.x + r, y + r), "center", bg=th.ACCENT)
            x = rect.x + 2 * r + px(28)
            hs = c.fit(head, head_size, rect.right - x)
            bottom = c.text(head, hs, th.INK, (x, y + r), "midleft").bottom
            c.text(
                detail, c.fit(detail, detail_size, rect.right - x, False), th.MUTED, (x, bottom), bold=False
            )

    def _attract_figure(self, stage: pygame.Rect, now: float) -> None:
        """A figure hinging with a flat back, its dowel line and the wall it reaches back to."""
        if self._attract is None:
            self._attract = _attract_animation()
        poses, valid = self._attract
        n = len(poses)
        i = int((now % ATTRACT_CYCLE_S) / ATTRACT_CYCLE_S * n) % n
        c = self.canvas
        view = self.figure_view
        view.fit(ATTRACT_BOX, stage, mirror=False, pad=0.02)
        pose = poses[i]
        width = max(5.0, 0.06 * (ATTRACT_BOX[3] - ATTRACT_BOX[1]) * view.scale)
        floor = view.y(ATTRACT_FLOOR)
        c.rect((stage.x, floor, stage.w, max(2, self.layout.px(4))), th.FAINT)
        wall_x = view.x(ATTRACT_WALL_X)
        c.dashed((wall_x, floor), (wall_x, view.y(ATTRACT_BOX[1] + 60)), width * 0.4, width * 1.4, th.MUTED)
        w.figure(c, view, pose, valid[i], Side.RIGHT, width, th.FIGURE)
        w.dowel(c, view, pose, valid[i], Side.RIGHT, 0.0, width * 0.45)

    def _progress_screen(self, scene: Scene) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        prog = scene.progress
        body = pygame.Rect(
            L.margin,
            L.header.bottom + L.margin,
            L.size[0] - 2 * L.margin,
            L.size[1] - L.header.bottom - 2 * L.margin,
        )
        c.panel(body, th.PANEL)
        pad = px(40)
        stats_w = body.w - 2 * pad if L.portrait else body.w // 2 - 2 * pad
        title = "Today at the mirror"
        size = c.fit(title, px(th.HEADLINE), stats_w)  # beside the chart on a landscape screen
        y = c.text(title, size, th.INK, (body.x + pad, body.y + px(26)), bg=th.PANEL).bottom
        today = prog.today
        reps = sum(s.reps for s in today)
        scored = [(s.mean_score, s.reps) for s in today if s.mean_score is not None and s.reps]
        mean = sum(m * n for m, n in scored) / sum(n for _, n in scored) if scored else None
        stats = (
            (str(len(today)), "sets", th.ACCENT),
            (str(reps), "reps", th.ACCENT),
            ("-" if mean is None else f"{mean:.0f}", "avg score", th.ACCENT),
        )
        y = self._stats_row(pygame.Rect(body.x + pad, y + px(24), stats_w, 0), stats)
        if L.portrait:
            chart = pygame.Rect(body.x + pad, y + px(50), body.w - 2 * pad, px(380))
            listing = pygame.Rect(
                body.x + pad, chart.bottom + px(60), body.w - 2 * pad, body.bottom - chart.bottom - px(90)
            )
        else:
            chart = pygame.Rect(body.centerx + pad, body.y + px(40), body.w // 2 - 2 * pad, body.h - px(80))
            listing = pygame.Rect(body.x + pad, y + px(50), body.w // 2 - 2 * pad, body.bottom - y - px(80))
        self._recent(listing, prog.recent or prog.today)
        self._week_chart(chart, prog.days)

    def _stats_row(self, rect: pygame.Rect, stats: tuple[tuple[str, str, th.Color], ...]) -> int:
        """Big numbers with small labels under them, in equal columns; returns the bottom."""
        c, L = self.canvas, self.layout
        px = L.px
        col = rect.w / len(stats)
        big = min(px(120), round(col * 0.5))
        base = rect.y + c.font(big).metrics("H")[0][3]
        bottom = base
        for i, (value, label, color) in enumerate(stats):
            x = rect.x + i * col
            c.caps(value, c.fit(value, big, col - px(20)), color, (x, base), bg=th.PANEL)
            bottom = c.text(
                label, px(th.SMALL), th.MUTED, (x + px(2), base + px(14)), bold=False, bg=th.PANEL
            ).bottom
        return bottom

    def _recent(self, rect: pygame.Rect, sets: list[SetSummary]) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        y = c.text("Recent sets", px(th.SMALL), th.MUTED, rect.topleft, bold=False, bg=th.PANEL).bottom + px(
            10
        )
        if not sets:
            c.text(
                "No sets yet: be the first today!", px(th.BODY), th.INK, (rect.x, y), bold=False, bg=th.PANEL
            )
            return
        size = px(th.SMALL)
        row_h = c.line_height(size) + px(26)
        chip_w = px(100)
        shown = sets[: max(1, (rect.bottom - y) // row_h)]
        # Columns, so the rows read as a table: when | drill | reps done/target | score.
        whens = [time.strftime("%a %H:%M", time.localtime(s.started_at)) for s in shown]
        counts = [f"{s.reps}/{s.target_reps}" for s in shown]
        drill_x = rect.x + max(c.text_size(w, size, bold=False)[0] for w in whens) + px(24)
        count_right = rect.right - chip_w - px(20)
        count_w = max(c.text_size(n, size)[0] for n in counts)
        room = count_right - count_w - px(24) - drill_x
        for s, when, count in zip(shown, whens, counts, strict=True):
            mid = y + row_h / 2
            title = DRILLS[s.drill].title if s.drill in DRILLS else s.drill
            c.text(when, size, th.MUTED, (rect.x, mid), "midleft", bold=False, bg=th.PANEL)
            c.text(title, c.fit(title, size, room), th.INK, (drill_x, mid), "midleft", bg=th.PANEL)
            c.text(count, size, th.INK, (count_right, mid), "midright", bg=th.PANEL)
            chip = pygame.Rect(0, 0, chip_w, row_h - px(14))
            chip.midright = (rect.right, round(mid))
            score = s.mean_score
            tint = th.set_score_color(score) if score is not None else th.FAINT
            c.panel(chip, tint, radius=px(10))
            c.text("-" if score is None else f"{score:.0f}", size, th.BLACK, chip.center, "center", bg=tint)
            y += row_h

    def _week_chart(self, rect: pygame.Rect, days: list[DayTotal]) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        top = c.text(
            "Reps, last 7 days", px(th.SMALL), th.MUTED, rect.topleft, bold=False, bg=th.PANEL
        ).bottom
        if not days:
            return
        label = px(th.LABEL)
        area = pygame.Rect(
            rect.x,
            top + px(30) + c.line_height(label),
            rect.w,
            rect.bottom - top - px(40) - 2 * c.line_height(label),
        )
        most = max(1, max(d.reps for d in days))
        col = area.w / len(days)
        for i, d in enumerate(days):
            h = area.h * d.reps / most
            bar = pygame.Rect(
                round(area.x + i * col + col * 0.18),
                round(area.bottom - h),
                round(col * 0.64),
                max(1, round(h)),
            )
            last = i == len(days) - 1
            if d.reps:
                tint = th.ACCENT if last else th.mix(th.GOOD, th.PANEL, 0.35)
                c.panel(bar, tint, radius=min(px(10), bar.w // 2))
                c.text(str(d.reps), label, th.INK, (bar.centerx, bar.y - px(6)), "midbottom", bg=th.PANEL)
            else:
                c.rect((bar.x, area.bottom - px(3), bar.w, px(3)), th.FAINT)
            day = "Today" if last else d.day.strftime("%a")
            c.text(
                day,
                c.fit(day, label, col),
                th.INK if last else th.MUTED,
                (bar.centerx, area.bottom + px(10)),
                "midtop",
                bold=last,
                bg=th.PANEL,
            )

    # ------------------------------------------------------------------------------ before a set

    def _faint_skeleton(self, snap: FrameSnapshot | None) -> None:
        """The person's skeleton, muted: guidance screens show they are seen without judging."""
        if snap is not None and snap.person:
            view, width = self.camera_view, self._line_width()
            w.skeleton(self.canvas, view, snap.pose, snap.valid, snap.side, width, th.SKELETON, 200)

    def _placement_screen(self, scene: Scene) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        snap = scene.snap
        self._faint_skeleton(snap)
        checks = scene.flow.checklist
        ready = False
        if not checks.in_view:
            title, detail = "Step into view", "Stand side-on, two to three metres from the mirror"
        elif not checks.whole_body:
            what = {"head": "your head", "feet": "your feet", "hips": "your hips"}.get(
                checks.missing, "all of you"
            )
            title, detail = "Step back", f"The mirror needs to see {what}: head to feet in view"
        elif not checks.side_on:
            title, detail = (
                "Turn side-on",
                "One shoulder toward the mirror, like the figure on the start screen",
            )
        elif not checks.standing:
            title, detail = "Stand tall", "Feet hip-width apart, arms relaxed"
        else:
            ready = True
            title, detail = "Hold still", f"{get_drill(scene.flow.drill).title} starts in a moment"
        box = L.cue
        c.panel(box, th.PANEL)
        color = th.GOOD if ready else th.WARN
        c.panel(pygame.Rect(box.x, box.y, px(18), box.h), color, 255, radius=px(9))
        inner = box.inflate(-px(80), -px(24))
        t_size = c.fit(title, px(th.CUE), inner.w)
        d_size = px(th.SMALL)
        total = c.line_height(t_size) + c.line_height(d_size, False)
        y = c.text(title, t_size, color, (box.centerx, box.centery - total / 2), "midtop", bg=th.PANEL).bottom
        d_size = c.fit(detail, d_size, inner.w, False)
        c.text(detail, d_size, th.INK, (box.centerx, y), "midtop", bold=False, bg=th.PANEL)
        items = (
            ("In view", checks.in_view),
            ("Head to feet", checks.whole_body),
            ("Side-on", checks.side_on),
            ("Standing tall", checks.standing),
        )
        self._checklist(self._clear_of_person(L.counter, snap), items)

    def _clear_of_person(self, rect: pygame.Rect, snap: FrameSnapshot | None) -> pygame.Rect:
        """`rect`, an overlay at one side of the picture, or its mirror image across the screen when
        the person stands under it and not under the other: people placing themselves must see
        themselves. It moves only then, so it does not hop about as someone walks around."""
        flipped = pygame.Rect(self.layout.size[0] - rect.right, rect.y, rect.w, rect.h)
        if snap is not None and snap.person and snap.valid.any():
            xs = [
                self.camera_view.x(float(x)) for x, ok in zip(snap.pose[:, X], snap.valid, strict=True) if ok
            ]
            lo, hi = min(xs), max(xs)
            here, there = (flipped, rect) if self._checklist_flipped else (rect, flipped)
            if here.x <= hi and lo <= here.right and not (there.x <= hi and lo <= there.right):
                self._checklist_flipped = not self._checklist_flipped
        return flipped if self._checklist_flipped else rect

    def _checklist(self, rect: pygame.Rect, items: tuple[tuple[str, bool], ...]) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        c.panel(rect, th.PANEL)
        cols = 2 if L.portrait else 1
        rows = math.ceil(len(items) / cols)
        inner = rect.inflate(-px(48), -px(36))
        cell_w, cell_h = inner.w / cols, inner.h / rows
        r = min(px(24), cell_h * 0.32)
        size = min(
            c.fit(label, min(px(th.BODY), round(cell_h * 0.6)), cell_w - 2 * r - px(30)) for label, _ in items
        )
        for k, (label, ok) in enumerate(items):
            col, row = k // rows, k % rows
            x = inner.x + col * cell_w
            y = inner.y + (row + 0.5) * cell_h
            if ok:
                w.cue_icon(c, (x + r, y), r, "praise", th.GOOD)
            else:
                c.arc((x + r, y), r * 0.85, max(2.0, r * 0.2), 0, 360, th.TRACK)
            c.text(
                label,
                size,
                th.INK if ok else th.MUTED,
                (x + 2 * r + px(18), y),
                "midleft",
                bold=ok,
                bg=th.PANEL,
            )

    def _choose_screen(self, scene: Scene) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        flow = scene.flow
        snap = scene.snap
        self._faint_skeleton(snap)
        names = flow.choices
        panel = L.choose
        c.panel(panel, th.PANEL)
        pad = px(28)
        y = c.text(
            "Choose a drill", px(th.HEADLINE), th.INK, (panel.x + pad, panel.y + px(20)), bg=th.PANEL
        ).bottom
        name = DRILLS[names[flow.choice]].title
        hint_size, hint_w = px(th.SMALL), panel.w - 2 * pad
        # Wrapped, shrunk only past three lines: these two lines are how the screen is worked, read
        # from metres away. (Drawn at one size below: the smaller of the two.)
        hint_text1 = "Raise a hand above your head for 2 s: next drill"
        hint_text2 = f"Or stand still: {name} starts in {math.ceil(flow.choose_left)} s"
        size1, hint1 = c.fit_lines(hint_text1, hint_size, hint_w, 3, bold=False)
        size2, hint2 = c.fit_lines(hint_text2, hint_size, hint_w, 3)
        hint_size = min(size1, size2)
        step = c.line_height(hint_size)
        hints_h = (len(hint1) + len(hint2)) * step + px(30)
        tiles = pygame.Rect(panel.x + pad, y + px(16), panel.w - 2 * pad, panel.bottom - hints_h - y - px(32))
        tile_h = min(px(110), tiles.h / len(names))
        # One size for every title, the one the longest fits at: a list in mixed sizes looks broken.
        title_size = min(
            c.fit(DRILLS[key].title, px(th.BODY), tiles.w - round(tile_h * 0.86) - px(30)) for key in names
        )
        for i, key in enumerate(names):
            tile = pygame.Rect(tiles.x, round(tiles.y + i * tile_h), tiles.w, round(tile_h * 0.86))
            on = i == flow.choice
            tint = th.ACCENT if on else th.LINE
            c.panel(tile, tint, radius=px(14))
            title = DRILLS[key].title
            c.text(
                title,
                title_size,
                th.BLACK if on else th.INK,
                (tile.x + px(24), tile.centery),
                "midleft",
                bg=tint,
            )
            if on and flow.hold > 0:
                r = tile.h * 0.3
                center = (tile.right - px(18) - r, tile.centery)
                c.arc(center, r, max(3.0, r * 0.32), 0, 360, th.mix(th.ACCENT, th.BLACK, 0.3))
                c.arc(center, r, max(3.0, r * 0.32), 0, 360 * flow.hold, th.BLACK)
        hy = panel.bottom - hints_h
        for line in hint1:
            hy = c.text(line, hint_size, th.INK, (panel.x + pad, hy), bold=False, bg=th.PANEL).bottom
        hy += px(6)
        for line in hint2:
            hy = c.text(line, hint_size, th.ACCENT, (panel.x + pad, hy), bg=th.PANEL).bottom

    # ------------------------------------------------------------------------------ the set

    def _active_screen(self, scene: Scene) -> None:
        c, L = self.canvas, self.layout
        flow = scene.flow
        snap = scene.snap
        drill = get_drill(flow.drill)
        width = self._line_width()
        view = self.camera_view
        if snap is not None and scene.frame is not None:
            w.body_overlay(c, view, snap, drill.has_wall, width)
        reps = len(flow.set_reps)
        w.counter(c, L.counter, reps, flow.settings.set_size, flow.clean, flow.faulted, L.portrait)
        w.score_strip(c, L.strip, flow.set_reps, flow.settings.set_size, vertical=not L.portrait)
        depth = snap.depth if snap is not None and snap.phase is not Phase.IDLE else 0.0
        w.depth_gauge(c, L.gauge, depth, drill.has_wall)
        cue = flow.cue_to_give(snap.cue) if snap is not None else None
        hint = "" if cue is not None else (drill.instruction if reps == 0 else "")
        w.cue_banner(c, L.cue, cue, hint)
        left = flow.countdown
        if left > 0:
            n = math.ceil(left)
            center = L.center.center
            r = min(L.center.w, L.center.h) * 0.3
            c.disc(center, r, th.BLACK, 170)
            c.arc(
                center,
                r,
                max(6.0, r * 0.07),
                0,
                360 * (left / max(1e-3, flow.settings.countdown_s)),
                th.ACCENT,
            )
            size = round(r * 1.1)
            c.caps(str(n), size, th.INK, center, "center")
            c.text("Get ready", L.px(th.HEADLINE), th.ACCENT, (center[0], center[1] + r + L.px(16)), "midtop")

    def _rest_screen(self, scene: Scene) -> None:
        c, L = self.canvas, self.layout
        flow = scene.flow
        report = flow.last_set
        smallest = L.px(60)  # the timer's radius at least: the fault list leaves room for it
        title = f"Set {report.number} done" if report else "Set done"
        bottom = self._summary(report, title, reserve=2 * smallest + L.px(40))
        box = L.summary
        room = box.bottom - L.px(30) - bottom
        r = max(smallest, min(room * 0.42, box.w * 0.2))
        center = (box.right - L.px(40) - r, box.bottom - L.px(30) - r)
        w.ring_timer(c, center, r, flow.rest_left, flow.settings.rest_s, "next set")
        self._tip(
            report,
            pygame.Rect(
                box.x + L.px(40),
                bottom,
                center[0] - r - L.px(40) - box.x - L.px(40),
                box.bottom - L.px(30) - bottom,
            ),
        )
        self._replay(scene, flow.set_clip, "Your rep to work on")

    def _done_screen(self, scene: Scene) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        flow = scene.flow
        sets = flow.sets
        reps = flow.session_reps()
        report = SetReport(len(sets), flow.drill, sum(s.target for s in sets), tuple(reps)) if sets else None
        y = self._summary(report, "Session complete")
        box = L.summary
        size = px(th.SMALL)
        room = int((box.bottom - px(90) - y) // c.line_height(size))
        lines = [
            f"Set {s.number}:  {s.clean} of {len(s.reps)} clean, average {_score_text(s.mean_score)}"
            for s in sets
        ]
        if len(lines) > room:  # as many sets as fit, the last line saying how many more
            kept = max(0, room - 1)
            lines = lines[:kept] + ([f"and {len(sets) - kept} more sets"] if room > 0 else [])
        for line in lines:
            y = c.text(
                line, c.fit(line, size, box.w - px(80)), th.INK, (box.x + px(40), y), bold=False, bg=th.PANEL
            ).bottom
        hint = "Hinge again to start a new session"
        c.text(
            hint,
            c.fit(hint, size, box.w - px(80), False),
            th.MUTED,
            (box.x + px(40), box.bottom - px(30)),
            "bottomleft",
            bold=False,
            bg=th.PANEL,
        )
        self._replay(scene, flow.session_clip, "The rep to work on")

    def _replay(self, scene: Scene, clip: ReplayClip, fault_title: str) -> None:
        """The summary's slow replay: the rep to work on (titled `fault_title`), else the best rep."""
        w.replay(
            self.canvas,
            self.layout.replay,
            clip,
            scene.now - scene.flow.screen_since,
            self.figure_view,
            scene.mirror,
            fault_title if clip.fault else _clean_title(clip),
        )

    def _summary(self, report: SetReport | None, title: str, reserve: int = 0) -> int:
        """The summary panel's title, numbers and faults; returns the y below them. The fault rows
        leave `reserve` pixels free at the bottom of the panel (the least common go first)."""
        c, L = self.canvas, self.layout
        px = L.px
        box = L.summary
        c.panel(box, th.PANEL)
        pad = px(40)
        y = c.text(
            title,
            c.fit(title, px(th.HEADLINE), box.w - 2 * pad),
            th.INK,
            (box.x + pad, box.y + px(24)),
            bg=th.PANEL,
        ).bottom
        if report is None or not report.reps:
            return y
        stats = (
            (str(len(report.reps)), "reps", th.INK),
            (str(report.clean), "clean", th.GOOD),
            (_score_text(report.mean_score), "avg score", th.ACCENT),
        )
        y = self._stats_row(pygame.Rect(box.x + pad, y + px(28), box.w - 2 * pad, 0), stats) + px(28)
        counts = report.fault_counts()
        size = px(th.BODY)
        if not counts and not report.unjudged:
            return c.text(
                "Every rep clean. Excellent!", size, th.GOOD, (box.x + pad, y), bg=th.PANEL
            ).bottom + px(20)
        if not counts:
            text = "Not judged: stand side-on to the camera"
            return c.text(
                text, c.fit(text, size, box.w - 2 * pad), th.WARN, (box.x + pad, y), bg=th.PANEL
            ).bottom + px(20)
        y = c.text(
            "To work on", px(th.SMALL), th.MUTED, (box.x + pad, y), bold=False, bg=th.PANEL
        ).bottom + px(6)
        # (label, reps, is a fault): the faults, then the reps that could not be judged.
        rows = [(FAULT_NAMES[fault], f"{n} of {len(report.reps)}", True) for fault, n in counts[:3]]
        if report.unjudged:
            rows.append(("Not judged", f"{report.unjudged} of {len(report.reps)}", False))
        # One size for every row, the one each name fits at beside its count on a narrow panel.
        left, gap = box.x + pad + px(56), px(16)
        for name, count, _ in rows:
            room = box.right - pad - c.text_size(count, size, False)[0] - gap - left
            size = min(size, c.fit(name, size, room))
        line = c.line_height(size)
        fits = max(1, int((box.bottom - reserve - px(20) - y) // line))
        for name, count, fault in rows[:fits]:
            mid = y + line / 2
            if fault:
                w.fault_mark(c, (box.x + pad + px(20), mid), px(20))
            ink = th.INK if fault else th.MUTED
            c.text(name, size, ink, (left, mid), "midleft", bg=th.PANEL)
            c.text(count, size, th.MUTED, (box.right - pad, mid), "midright", bold=False, bg=th.PANEL)
            y += line
        return y + px(20)

    def _tip(self, report: SetReport | None, rect: pygame.Rect) -> None:
        """The coaching cue of the set's most common fault, as a tip for the next set."""
        if report is None or rect.w <= 0 or rect.h <= 0:
            return
        counts = report.fault_counts()
        if counts:
            text = CUES[counts[0][0]].text
        elif report.unjudged:
            text = "Stand side-on, so your form can be judged"
        else:
            text = "Keep exactly that form"
        c, px = self.canvas, self.layout.px
        size, head_size = px(th.BODY), px(th.SMALL)
        # "Next set" over the tip, the two centred together in `rect`.
        body_h = len(c.wrap(text, size, rect.w, False)[:4]) * round(c.line_height(size, False) * 1.1)
        head_h = c.line_height(head_size, False)
        y = rect.centery - (head_h + body_h) / 2
        c.text("Next set", head_size, th.MUTED, (rect.x, y), bold=False, bg=th.PANEL)
        below = pygame.Rect(rect.x, round(y + head_h), rect.w, body_h)
        c.paragraph(text, size, th.WARN, below, align="left", bold=False, bg=th.PANEL)

    def _camera_lost(self, status: CameraStatus) -> None:
        c, L = self.canvas, self.layout
        px = L.px
        W, H = L.size
        title = "Camera disconnected"
        y = c.text(
            title,
            c.fit(title, px(th.TITLE), W - 2 * L.margin),
            th.WARN,
            (W // 2, H // 2 - px(160)),
            "midtop",
            bg=th.BLACK,
        ).bottom
        box = pygame.Rect(0, y + px(30), min(W - 2 * L.margin, px(1500)), px(150))
        box.centerx = W // 2
        c.paragraph(status.message, px(th.SMALL), th.MUTED, box, max_lines=3, bold=False, bg=th.BLACK)
        retry = math.ceil(max(0.0, status.retry_in_s))
        line = f"Trying again in {retry} s" if retry > 0 else "Trying again now"
        c.text(line, px(th.HEADLINE), th.INK, (W // 2, box.bottom + px(30)), "midtop", bg=th.BLACK)


# The attract animation: a clean hinge by the synthetic performer, precomputed once.
ATTRACT_CYCLE_S = 4.5
ATTRACT_BODY = 400.0
ATTRACT_ANKLE = (300.0, 460.0)
ATTRACT_BOX = (170.0, 70.0, 430.0, 470.0)
ATTRACT_FLOOR = 466.0
ATTRACT_WALL_X = 232.0  # just behind the hips at the bottom (their keypoint reaches x = 249)


def _score_text(score: float) -> str:
    """A mean score as shown; a dash when no rep could be judged."""
    return "–" if math.isnan(score) else f"{score:.0f}"


def _clean_title(clip: ReplayClip) -> str:
    """The replay's title when its rep has no fault: the best rep, or one that could not be judged."""
    return "Your best rep" if clip.rep is None or clip.rep.judged else "A rep seen at an angle"


def _attract_animation(frames: int = 72) -> tuple[np.ndarray, np.ndarray]:
    from kiosk.performer import BOTTOMS, STAND, posture_keypoints

    poses = np.zeros((frames, 17, 3), np.float32)
    for i in range(frames):
        p = i / frames
        # stand 20%, down 35%, hold 10%, up 35%
        if p < 0.2:
            k = 0.0
        elif p < 0.55:
            k = 0.5 - 0.5 * math.cos(math.pi * (p - 0.2) / 0.35)
        elif p < 0.65:
            k = 1.0
        else:
            k = 0.5 + 0.5 * math.cos(math.pi * (p - 0.65) / 0.35)
        poses[i] = posture_keypoints(
            STAND.blend(BOTTOMS[None], k), facing=1, body_px=ATTRACT_BODY, ankle=ATTRACT_ANKLE
        )
    return poses, np.ones((frames, 17), bool)
