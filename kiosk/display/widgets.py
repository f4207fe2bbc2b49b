"""The pieces every screen is made of, drawn on a `Canvas`.

Overlays on the camera picture go through a `View`, which maps source pixels to screen pixels
with the same scale, offset and mirroring as the picture, so the skeleton sits on the body
whichever way the picture is flipped. Widgets allocate nothing per frame beyond small objects
(tuples, a few Rects): text goes through the canvas's texture cache, and no image is made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pygame

from kiosk.body import CHAINS, SIDE_BONES, BodyPart, Side
from kiosk.coach import Cue
from kiosk.display import theme as th
from kiosk.display.gfx import Canvas
from kiosk.flow import FrameSnapshot, ReplayClip
from kiosk.reps import FAULT_NAMES, RepResult

PLUMB_LINES = 4  # across the picture, evenly spaced


class View:
    """Source pixels -> screen pixels: scale into `dst`, mirrored left-right when `mirror`."""

    def __init__(self) -> None:
        self.scale = 1.0
        self.x0 = 0.0
        self.y0 = 0.0
        self.src_w = 1.0
        self.mirror = False

    def set(self, src_w: float, src_h: float, dst: Sequence[float], mirror: bool) -> None:
        self.src_w = float(src_w)
        self.scale = dst[2] / src_w if src_w > 0 else 1.0
        self.x0, self.y0 = float(dst[0]), float(dst[1])
        self.mirror = mirror

    def fit(self, bbox: Sequence[float], dst: pygame.Rect, mirror: bool, pad: float = 0.08) -> None:
        """Fit a source-space box (x0, y0, x1, y1) into `dst` (replays, figures)."""
        bw, bh = max(1.0, bbox[2] - bbox[0]), max(1.0, bbox[3] - bbox[1])
        bw, bh = bw * (1 + 2 * pad), bh * (1 + 2 * pad)
        self.scale = min(dst.w / bw, dst.h / bh)
        cx, cy = (bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0
        self.mirror = mirror
        self.src_w = 2.0 * cx  # mirroring about the box centre
        self.x0 = dst.centerx - cx * self.scale
        self.y0 = dst.centery - cy * self.scale

    def x(self, x: float) -> float:
        return self.x0 + ((self.src_w - x) if self.mirror else x) * self.scale

    def y(self, y: float) -> float:
        return self.y0 + y * self.scale

    def point(self, pose: np.ndarray, i: int) -> tuple[float, float]:
        return self.x(float(pose[i, 0])), self.y(float(pose[i, 1]))


def plumb_lines(canvas: Canvas, view: View, src: tuple[float, float], roll_deg: float, width: float) -> None:
    """Plumb lines over the camera picture (`display.show_level`), turned by the camera roll the
    measures assume: for whoever installs the kiosk, they run parallel to the room's door frames and
    wall corners when `camera.roll_deg` is right, or, at 0, when the camera is level."""
    src_w, src_h = src
    lean = 0.5 * src_h * math.tan(math.radians(roll_deg))  # a positive roll leans tops to the right
    for k in range(1, PLUMB_LINES + 1):
        x = src_w * k / (PLUMB_LINES + 1)
        top = (view.x(x + lean), view.y(0.0))
        bottom = (view.x(x - lean), view.y(src_h))
        canvas.line(top, bottom, width, th.WARN, 200)


# ------------------------------------------------------------------------------------ the body


def skeleton(
    canvas: Canvas,
    view: View,
    pose: np.ndarray,
    valid: np.ndarray,
    side: Side | None,
    width: float,
    color: th.Color = th.SKELETON,
    alpha: int = 235,
    highlight: Sequence[str] = (),
    highlight_color: th.Color = th.BAD,
) -> None:
    """The bones and joints of the side facing the camera; `highlight` names chain parts
    (ear, shoulder, hip, knee, ankle ...) whose bones are drawn in `highlight_color`."""
    if side is None:
        return
    chain = CHAINS[side]
    for a, b in SIDE_BONES:
        ia, ib = getattr(chain, a), getattr(chain, b)
        if valid[ia] and valid[ib]:
            hot = a in highlight and b in highlight
            canvas.line(  # the joint discs below round the ends
                view.point(pose, ia),
                view.point(pose, ib),
                width * (1.25 if hot else 1.0),
                highlight_color if hot else color,
                alpha,
            )
    for name in ("ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        i = getattr(chain, name)
        if valid[i]:
            p = view.point(pose, i)
            canvas.disc(p, width * 0.95, th.BLACK, 200)
            canvas.disc(p, width * 0.62, highlight_color if name in highlight else color)


def dowel(
    canvas: Canvas,
    view: View,
    pose: np.ndarray,
    valid: np.ndarray,
    side: Side | None,
    alignment: float,
    width: float,
) -> th.Color | None:
    """The virtual dowel: the ear-shoulder-hip line coloured by alignment, its three contact
    points, and the straight ear-hip reference a flat back lies on. Returns the colour used."""
    if side is None:
        return None
    chain = CHAINS[side]
    ear, sh, hip = chain.ear, chain.shoulder, chain.hip
    if not (valid[ear] and valid[sh] and valid[hip]):
        return None
    color = th.alignment_color(alignment)
    pe, ps, ph = view.point(pose, ear), view.point(pose, sh), view.point(pose, hip)
    dx, dy = pe[0] - ph[0], pe[1] - ph[1]
    ext = 0.18
    top = (pe[0] + dx * ext, pe[1] + dy * ext)
    bottom = (ph[0] - dx * ext, ph[1] - dy * ext)
    canvas.line(bottom, top, max(2.0, width * 0.3), th.INK, 170)
    w = width * (1.5 if color == th.BAD else 1.1)
    canvas.line(pe, ps, w, color)  # the contact discs below round the ends
    canvas.line(ps, ph, w, color)
    for p in (pe, ps, ph):
        canvas.disc(p, w * 1.25, th.BLACK, 220)
        canvas.disc(p, w * 0.95, color)
    return color


def wall(
    canvas: Canvas,
    view: View,
    pose: np.ndarray,
    valid: np.ndarray,
    side: Side | None,
    wall_x: float,
    leg_px: float,
    facing: int,
    reached: bool,
    width: float,
) -> None:
    """The virtual wall behind the heels: a dashed upright with a faint surface behind it."""
    if side is None or not math.isfinite(wall_x) or not leg_px > 0:
        return
    ankle = CHAINS[side].ankle
    if not valid[ankle]:
        return
    floor = float(pose[ankle, 1]) + 0.06 * leg_px
    top = floor - 1.75 * leg_px
    x = view.x(wall_x)
    y0, y1 = view.y(top), view.y(floor)
    color = th.GOOD if reached else th.MUTED
    # The wall's surface extends away from the person (behind them); mirroring flips that side.
    behind = -facing * (-1 if view.mirror else 1)
    depth = 0.25 * leg_px * view.scale
    x_far = x + behind * depth
    canvas.rect((min(x, x_far), y0, abs(depth), y1 - y0), color, 70 if reached else 40)
    canvas.dashed((x, y1), (x, y0), width * (0.8 if reached else 0.5), width * 1.6, color, 255)
    label = "WALL"
    tw, _ = canvas.text_size(label, canvas.px(th.SMALL))
    canvas.text(label, canvas.px(th.SMALL), color, (x + behind * (tw / 2 + width), y0), "midbottom")


def body_overlay(canvas: Canvas, view: View, snap: FrameSnapshot, has_wall: bool, width: float) -> None:
    """What the mirror draws over the person: the wall (for drills with one), the skeleton of the
    side in use and the dowel line; the live screens and the annotated video both use it."""
    if not snap.person:
        return
    if has_wall:
        wall(
            canvas,
            view,
            snap.pose,
            snap.valid,
            snap.side,
            snap.wall_x,
            snap.leg_px,
            snap.facing,
            snap.wall_reached,
            width,
        )
    skeleton(canvas, view, snap.pose, snap.valid, snap.side, width)
    dowel(canvas, view, snap.pose, snap.valid, snap.side, snap.alignment, width)


def figure(
    canvas: Canvas,
    view: View,
    pose: np.ndarray,
    valid: np.ndarray,
    side: Side | None,
    width: float,
    color: th.Color = th.FIGURE,
    highlight: Sequence[str] = (),
) -> None:
    """A stylised person (replays, the attract animation): rounded limbs, a torso and a head;
    `highlight` parts are drawn in the fault colour."""
    if side is None:
        return
    chain = CHAINS[side]
    limbs = (
        ("ankle", "knee", 1.0),
        ("knee", "hip", 1.15),
        ("hip", "shoulder", 1.9),
        ("shoulder", "ear", 0.8),
        ("shoulder", "elbow", 0.8),
        ("elbow", "wrist", 0.7),
    )
    for a, b, k in limbs:
        ia, ib = getattr(chain, a), getattr(chain, b)
        if valid[ia] and valid[ib]:
            hot = a in highlight and b in highlight
            canvas.stroke(view.point(pose, ia), view.point(pose, ib), width * k, th.BAD if hot else color)
    ear = chain.ear
    if valid[ear]:
        ex, ey = view.point(pose, ear)
        nose = int(BodyPart.NOSE)
        if valid[nose]:
            nx, ny = view.point(pose, nose)
            ex, ey = ex + 0.35 * (nx - ex), ey + 0.35 * (ny - ey)
        canvas.disc((ex, ey), width * 1.45, th.BAD if "ear" in highlight else color)


# ---------------------------------------------------------------------------- instruments


def depth_gauge(canvas: Canvas, rect: pygame.Rect, depth: float, has_wall: bool) -> None:
    """Vertical gauge of how far the hips have gone back, filling up to the target line."""
    px = canvas.px
    canvas.panel(rect, th.PANEL)
    label = px(th.LABEL)
    top = canvas.text(
        "DEPTH",
        canvas.fit("DEPTH", label, rect.w - px(12)),
        th.MUTED,
        (rect.centerx, rect.y + px(14)),
        "midtop",
        bold=False,
        bg=th.PANEL,
    ).bottom
    track = pygame.Rect(0, 0, px(36), rect.bottom - px(24) - top - px(16))
    track.midtop = (rect.centerx, top + px(16))
    canvas.panel(track, th.TRACK, radius=track.w // 2)
    full = 1.25  # the gauge reaches a quarter past the target
    d = 0.0 if not math.isfinite(depth) else max(0.0, min(full, depth))
    if d > 0.02:
        h = max(track.w, round(track.h * d / full))
        color = th.GOOD if d >= 1.0 else (th.ACCENT if d >= 0.5 else th.MUTED)
        canvas.panel(pygame.Rect(track.x, track.bottom - h, track.w, h), color, 255, radius=track.w // 2)
    target_y = track.bottom - track.h / full
    canvas.rect((rect.x + px(10), target_y - px(3), rect.w - px(20), px(6)), th.INK)
    word = "WALL" if has_wall else "GOAL"
    canvas.text(
        word,
        canvas.fit(word, label, rect.w - px(12)),
        th.INK,
        (rect.centerx, target_y - px(8)),
        "midbottom",
        bg=th.PANEL,
    )


def cue_banner(canvas: Canvas, rect: pygame.Rect, cue: Cue | None, hint: str = "") -> None:
    """The current cue in large type, its kind shown by colour, a stripe and an icon."""
    if cue is None and not hint:
        return
    px = canvas.px
    canvas.panel(rect, th.PANEL)
    if cue is None:
        canvas.paragraph(
            hint, px(th.BODY), th.MUTED, rect.inflate(-px(60), -px(20)), bold=False, max_lines=2, bg=th.PANEL
        )
        return
    color = {"form": th.BAD, "praise": th.GOOD}.get(cue.kind, th.WARN)
    canvas.panel(pygame.Rect(rect.x, rect.y, px(18), rect.h), color, 255, radius=px(9))
    r = min(rect.h * 0.3, px(52))
    icon = (rect.x + px(44) + r, rect.centery)
    cue_icon(canvas, icon, r, cue.kind, color)
    box = pygame.Rect(round(icon[0] + r + px(32)), rect.y + px(8), 0, rect.h - px(16))
    box.w = rect.right - px(28) - box.x
    # The largest type that fits in two lines (three at the smallest size).
    for units, most in ((th.CUE, 2), (th.HEADLINE, 2), (th.BODY, 2), (th.SMALL, 3)):
        size = px(units)
        lines = len(canvas.wrap(cue.text, size, box.w))
        if lines <= most and lines * canvas.line_height(size) <= box.h:
            break
    canvas.paragraph(cue.text, size, th.INK, box, align="left", line_gap=1.0, max_lines=3, bg=th.PANEL)


def cue_icon(canvas: Canvas, center: tuple[float, float], r: float, kind: str, color: th.Color) -> None:
    """A check for praise, an exclamation mark for a fault, an arrow for placement."""
    cx, cy = center
    canvas.disc(center, r, color)
    w = max(3.0, r * 0.22)
    if kind == "praise":
        canvas.stroke((cx - r * 0.45, cy + r * 0.02), (cx - r * 0.1, cy + r * 0.38), w, th.BLACK)
        canvas.stroke((cx - r * 0.1, cy + r * 0.38), (cx + r * 0.48, cy - r * 0.36), w, th.BLACK)
    elif kind == "form":
        canvas.stroke((cx, cy - r * 0.5), (cx, cy + r * 0.12), w, th.BLACK)
        canvas.disc((cx, cy + r * 0.45), w * 0.65, th.BLACK)
    else:
        canvas.stroke((cx - r * 0.45, cy), (cx + r * 0.35, cy), w, th.BLACK)
        canvas.stroke((cx + r * 0.45, cy), (cx + r * 0.05, cy - r * 0.38), w, th.BLACK)
        canvas.stroke((cx + r * 0.45, cy), (cx + r * 0.05, cy + r * 0.38), w, th.BLACK)


def fault_mark(
    canvas: Canvas, center: tuple[float, float], r: float, fill: th.Color = th.BAD, ink: th.Color = th.BLACK
) -> None:
    """The shape that marks a faulted rep, a triangle with "!", so a fault is never colour alone."""
    cx, cy = center
    canvas.triangle((cx, cy - r), (cx + r * 0.95, cy + r * 0.72), (cx - r * 0.95, cy + r * 0.72), fill)
    w = max(2.0, r * 0.2)
    canvas.line((cx, cy - r * 0.42), (cx, cy + r * 0.2), w, ink)
    canvas.disc((cx, cy + r * 0.44), w * 0.6, ink)


def counter(
    canvas: Canvas,
    rect: pygame.Rect,
    reps: int,
    target: int,
    clean: int,
    faulted: int,
    portrait: bool,
) -> None:
    """Reps done of the set's target, with the clean / to-fix split."""
    px = canvas.px
    canvas.panel(rect, th.PANEL)
    pad = px(28)
    label_bottom = canvas.text(
        "REPS", px(th.LABEL), th.MUTED, (rect.x + pad, rect.y + px(16)), bold=False, bg=th.PANEL
    ).bottom
    big = px(th.COUNTER * (0.8 if portrait else 1.0))
    number = str(reps)
    of = f"/ {target}"
    if portrait:
        split_w = canvas.text_size(f"{max(clean, faulted)} to fix", px(th.BODY))[0] + px(70)
        big = canvas.fit(number, big, rect.w - 2 * pad - split_w - canvas.text_size(of, px(th.HEADLINE))[0])
        base = rect.bottom - px(24)
    else:
        big = canvas.fit(number, big, rect.w * 0.55)
        base = label_bottom + px(12) + canvas.font(big).metrics("H")[0][3]
    num_right = canvas.caps(number, big, th.INK, (rect.x + pad, base), bg=th.PANEL).right
    canvas.caps(of, px(th.HEADLINE), th.MUTED, (num_right + px(16), base), bg=th.PANEL)
    size = px(th.BODY)
    if portrait:
        _split(
            canvas,
            (rect.right - pad - split_w + px(20), rect.centery - canvas.line_height(size)),
            clean,
            faulted,
            size,
        )
    else:
        _split(canvas, (rect.x + pad, base + px(26)), clean, faulted, size)


def _split(canvas: Canvas, pos: tuple[float, float], clean: int, faulted: int, size: int) -> None:
    x, y = pos
    line = canvas.line_height(size)
    r = size * 0.3
    canvas.disc((x + r, y + line / 2), r, th.GOOD)
    canvas.text(f"{clean} clean", size, th.INK, (x + 3 * r, y + line / 2), "midleft", bg=th.PANEL)
    y2 = y + line
    fault_mark(canvas, (x + r, y2 + line / 2), r * 1.2)
    canvas.text(f"{faulted} to fix", size, th.INK, (x + 3 * r, y2 + line / 2), "midleft", bg=th.PANEL)


def score_strip(
    canvas: Canvas,
    rect: pygame.Rect,
    reps: Sequence[RepResult],
    target: int,
    vertical: bool,
) -> None:
    """The set's reps as chips: score, colour and a fault mark; empty slots for reps to come."""
    px = canvas.px
    canvas.panel(rect, th.PANEL)
    pad = px(16)
    inner = rect.inflate(-2 * pad, -2 * pad)
    slots = max(target, len(reps))
    if vertical:
        title_bottom = canvas.text(
            "LAST REPS", px(th.LABEL), th.MUTED, (inner.x + px(10), inner.y), bold=False, bg=th.PANEL
        ).bottom
        area = pygame.Rect(inner.x, title_bottom + px(8), inner.w, inner.bottom - title_bottom - px(8))
        fit = max(1, min(slots, area.h // max(1, px(64))))
        row_h = area.h / fit
        first = max(0, len(reps) - fit) if len(reps) >= fit else 0
        for k in range(fit):
            i = first + k
            chip = pygame.Rect(
                area.x, round(area.y + k * row_h + row_h * 0.06), area.w, max(1, round(row_h * 0.88))
            )
            _chip(canvas, chip, reps[i] if i < len(reps) else None, i + 1, True, i == len(reps) - 1)
    else:
        fit = max(1, min(slots, inner.w // max(1, px(84))))
        col_w = inner.w / fit
        first = max(0, len(reps) - fit) if len(reps) >= fit else 0
        for k in range(fit):
            i = first + k
            chip = pygame.Rect(
                round(inner.x + k * col_w + col_w * 0.05), inner.y, max(1, round(col_w * 0.9)), inner.h
            )
            _chip(canvas, chip, reps[i] if i < len(reps) else None, i + 1, False, i == len(reps) - 1)


def _chip(
    canvas: Canvas, chip: pygame.Rect, rep: RepResult | None, number: int, horizontal: bool, latest: bool
) -> None:
    px = canvas.px
    if rep is None:
        canvas.panel(chip, th.SLOT, radius=px(12))
        canvas.text(str(number), px(th.LABEL), th.FAINT, chip.center, "center", bold=False, bg=th.SLOT)
        return
    color = th.score_color(rep.score, bool(rep.faults)) if rep.judged else th.MUTED
    if not latest:
        color = th.mix(color, th.PANEL, 0.22)
    canvas.panel(chip, color, radius=px(12))
    score = str(rep.score) if rep.judged else "?"
    if horizontal:
        size = min(px(th.BODY), round(chip.h * 0.75))
        canvas.text(
            f"#{number}",
            round(size * 0.7),
            th.BLACK,
            (chip.x + px(14), chip.centery),
            "midleft",
            bold=False,
            bg=color,
        )
        right = chip.right - px(14)
        if rep.faults:
            r = chip.h * 0.28
            fault_mark(canvas, (right - r, chip.centery), r, th.BLACK, color)
            right -= round(2 * r + px(12))
        canvas.text(score, size, th.BLACK, (right, chip.centery), "midright", bg=color)
    else:
        size = canvas.fit(score, min(px(th.HEADLINE), round(chip.h * 0.5)), chip.w - px(10))
        canvas.text(
            f"#{number}",
            px(th.LABEL) * 3 // 4,
            th.BLACK,
            (chip.centerx, chip.y + px(4)),
            "midtop",
            bold=False,
            bg=color,
        )
        canvas.text(score, size, th.BLACK, chip.center, "center", bg=color)
        if rep.faults:
            r = min(chip.w, chip.h) * 0.13
            fault_mark(canvas, (chip.centerx, chip.bottom - px(6) - r), r, th.BLACK, color)


def ring_timer(
    canvas: Canvas, center: tuple[float, float], radius: float, left_s: float, total_s: float, caption: str
) -> None:
    """A countdown ring with the time left in the middle."""
    width = max(6.0, radius * 0.13)
    canvas.arc(center, radius, width, 0.0, 360.0, th.TRACK)
    frac = 0.0 if total_s <= 0 else max(0.0, min(1.0, left_s / total_s))
    canvas.arc(center, radius, width, 0.0, 360.0 * frac, th.ACCENT)
    secs = math.ceil(left_s - 1e-6)  # 30.000000000004 s left reads 0:30
    text = f"{secs // 60}:{secs % 60:02d}"
    size = canvas.fit(text, round(radius * 0.6), radius * 1.4)
    canvas.caps(text, size, th.INK, (center[0], center[1] + radius * 0.08), "midbottom", bg=th.PANEL)
    cap_size = canvas.fit(caption, round(radius * 0.26), radius * 1.3)
    canvas.text(
        caption, cap_size, th.MUTED, (center[0], center[1] + radius * 0.2), "midtop", bold=False, bg=th.PANEL
    )


# ---------------------------------------------------------------------------------- replay

# Body parts to highlight in a replay, per fault.
FAULT_PARTS: dict[str, tuple[str, ...]] = {
    "rounded_back": ("shoulder", "hip"),
    "squatting": ("hip", "knee", "ankle"),
    "weight_forward": ("knee", "ankle"),
    "shallow": ("shoulder", "hip", "knee"),
    "head_out_of_line": ("ear", "shoulder"),
    "hyperextension": ("shoulder", "hip"),
}
REPLAY_SPEED = 0.5
REPLAY_HOLD_S = 1.5  # the replay pauses this long on the moment the fault shows best


def replay_time(clip: ReplayClip, elapsed: float) -> tuple[float, bool]:
    """The clip time to show `elapsed` seconds into a looping slow replay, and whether it is the
    paused moment of the fault."""
    if clip.count == 0:
        return math.nan, False
    t0, t1 = float(clip.t[0]), float(clip.t[clip.count - 1])
    span = max(1e-3, t1 - t0) / REPLAY_SPEED
    mark = clip.mark_t
    has_mark = clip.fault is not None and math.isfinite(mark) and t0 <= mark <= t1
    cycle = span + (REPLAY_HOLD_S if has_mark else 0.0) + 0.6
    e = elapsed % cycle
    if not has_mark:
        return min(t1, t0 + e * REPLAY_SPEED), False
    mark_e = (mark - t0) / REPLAY_SPEED
    if e < mark_e:
        return t0 + e * REPLAY_SPEED, False
    if e < mark_e + REPLAY_HOLD_S:
        return mark, True
    return min(t1, t0 + (e - REPLAY_HOLD_S) * REPLAY_SPEED), False


def clip_index(clip: ReplayClip, t: float) -> int:
    """The clip frame at or just before `t`."""
    n = clip.count
    i = int(np.searchsorted(clip.t[:n], t, side="right")) - 1
    return max(0, min(n - 1, i))


def replay(
    canvas: Canvas, rect: pygame.Rect, clip: ReplayClip, elapsed: float, view: View, mirror: bool, title: str
) -> None:
    """A rep replayed at half speed as a figure, pausing on the fault with the body part marked."""
    px = canvas.px
    canvas.panel(rect, th.PANEL)
    pad = px(30)
    size = canvas.fit(title, px(th.BODY), rect.w - 2 * pad)
    y = canvas.text(title, size, th.INK, (rect.x + pad, rect.y + px(22)), bg=th.PANEL).bottom
    rep = clip.rep
    if clip.count == 0 or rep is None:
        canvas.paragraph(
            "The replay appears after your first rep", px(th.BODY), th.MUTED, rect, bold=False, bg=th.PANEL
        )
        return
    fault = clip.fault
    score = f"score {rep.score}" if rep.judged else "not judged"
    which = f"Set {clip.set_number}, rep {rep.index}" if clip.set_number else f"Rep {rep.index}"
    y = canvas.text(
        f"{which} · {score} · ½ speed",
        px(th.SMALL),
        th.MUTED,
        (rect.x + pad, y + px(4)),
        bold=False,
        bg=th.PANEL,
    ).bottom
    label_h = canvas.line_height(px(th.BODY))
    bar_y = rect.bottom - px(24) - label_h - px(40)
    stage = pygame.Rect(rect.x + pad, y + px(20), rect.w - 2 * pad, bar_y - px(40) - y - px(20))
    view.fit(clip.bbox, stage, mirror, pad=0.04)
    t, paused = replay_time(clip, elapsed)
    i = clip_index(clip, t)
    pose, valid = clip.pose[i], clip.valid[i]
    width = max(5.0, 0.06 * (clip.bbox[3] - clip.bbox[1]) * view.scale)
    floor = view.y(clip.bbox[3]) + width * 0.6
    canvas.rect((stage.x, floor, stage.w, max(2, px(4))), th.FAINT)
    marked = fault is not None and (paused or abs(t - clip.mark_t) < 0.25)
    parts = FAULT_PARTS.get(fault, ()) if (fault and marked) else ()
    figure(canvas, view, pose, valid, clip.side, width, th.FIGURE, parts)
    if marked and fault in ("rounded_back", "head_out_of_line"):
        dowel(canvas, view, pose, valid, clip.side, float(clip.alignment[i]), width * 0.5)
    # The rep's timeline, with the moment of the fault.
    bar = pygame.Rect(rect.x + pad, bar_y, rect.w - 2 * pad, px(10))
    canvas.panel(bar, th.TRACK, radius=bar.h // 2)
    t0, t1 = float(clip.t[0]), float(clip.t[clip.count - 1])
    span = max(1e-3, t1 - t0)
    if fault is not None and math.isfinite(clip.mark_t):
        fault_mark(canvas, (bar.x + bar.w * (clip.mark_t - t0) / span, bar.centery - px(30)), px(18))
    canvas.disc((bar.x + bar.w * (t - t0) / span, bar.centery), px(14), th.INK)
    if fault:
        label, color = FAULT_NAMES.get(fault, ""), (th.BAD if marked else th.MUTED)
    elif clip.rep is not None and not clip.rep.judged:
        label, color = "Not judged: turn side-on", th.WARN
    else:
        label, color = "Clean rep: well done", th.GOOD
    canvas.text(
        label,
        canvas.fit(label, px(th.BODY), rect.w - 2 * pad),
        color,
        (rect.centerx, rect.bottom - px(24)),
        "midbottom",
        bg=th.PANEL,
    )
