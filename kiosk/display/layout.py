"""Where everything goes, for a portrait (mirror) or landscape screen of any resolution.

The camera picture is fitted whole (never cropped: the hips travel back and must stay visible):
while coaching into the stage above the cue banner, so the feet stay in view; while choosing a
drill beside or above the choice panel; behind the idle screens into the whole screen, dimmed.
Panels sit at the screen's edges, opaque, over the picture where it reaches them:

    landscape                                  portrait
    +--------------------------------------+   +----------------+
    | header: drill, set, badges           |   | header         |
    | counter |                |scores|dep-|   | counter        |
    |         |    picture     |      |th  |   |        | depth |
    |         |                |      |    |   | picture| gauge |
    | cue banner                           |   | cue banner     |
    +--------------------------------------+   | score strip    |
                                               +----------------+

Summary screens split the screen in two: the numbers and the slow replay side by side
(landscape) or stacked (portrait). All rectangles are computed once per screen size.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame


def fit(src_w: int, src_h: int, box: pygame.Rect) -> pygame.Rect:
    """The largest rectangle of the source's aspect inside `box`, centred."""
    if src_w <= 0 or src_h <= 0:
        return pygame.Rect(box)
    scale = min(box.w / src_w, box.h / src_h)
    w, h = round(src_w * scale), round(src_h * scale)
    return pygame.Rect(box.x + (box.w - w) // 2, box.y + (box.h - h) // 2, w, h)


@dataclass(frozen=True)
class Layout:
    """The rectangles of one screen size and orientation (see the module docstring)."""

    size: tuple[int, int]
    portrait: bool
    u: float  # pixels per unit (a thousandth of the short side)
    margin: int
    screen: pygame.Rect
    header: pygame.Rect
    counter: pygame.Rect
    strip: pygame.Rect
    gauge: pygame.Rect
    cue: pygame.Rect
    center: pygame.Rect  # the free middle, for big messages and the countdown
    stage: pygame.Rect  # the picture while coaching: between header and cue banner, head and feet in view
    choose: pygame.Rect  # the drill-choice panel ...
    choose_stage: pygame.Rect  # ... and the picture beside (landscape) or above (portrait) it
    summary: pygame.Rect  # summary screens: the numbers ...
    replay: pygame.Rect  # ... and the replay

    def px(self, units: float) -> int:
        return max(1, round(units * self.u))

    @classmethod
    def for_screen(cls, width: int, height: int, orientation: str = "auto") -> Layout:
        """`orientation`: "auto" follows the screen's shape; "portrait"/"landscape" force it."""
        portrait = height > width if orientation == "auto" else orientation == "portrait"
        u = min(width, height) / 1000.0

        def px(units: float) -> int:
            return max(1, round(units * u))

        m = px(24)
        screen = pygame.Rect(0, 0, width, height)
        header = pygame.Rect(m, m, width - 2 * m, px(96))
        top = header.bottom + m
        if portrait:
            counter = pygame.Rect(m, top, width - 2 * m, px(250))
            strip = pygame.Rect(m, height - m - px(150), width - 2 * m, px(150))
            cue = pygame.Rect(m, strip.y - m - px(200), width - 2 * m, px(200))
            gauge_top = counter.bottom + m
            gauge = pygame.Rect(width - m - px(96), gauge_top, px(96), cue.y - m - gauge_top)
            center = pygame.Rect(m, gauge_top, width - 2 * m, cue.y - m - gauge_top)
            stage = pygame.Rect(0, counter.bottom + m // 2, width, cue.y - m - counter.bottom)
            choose = pygame.Rect(m, cue.y - px(360), width - 2 * m, height - m - cue.y + px(360))
            choose_stage = pygame.Rect(0, header.bottom + m // 2, width, choose.y - m - header.bottom)
            body = pygame.Rect(m, top, width - 2 * m, height - m - top)
            split = body.y + int(body.h * 0.46)
            summary = pygame.Rect(body.x, body.y, body.w, split - body.y - m // 2)
            replay = pygame.Rect(body.x, split + m // 2, body.w, body.bottom - split - m // 2)
        else:
            cue = pygame.Rect(m, height - m - px(170), width - 2 * m, px(170))
            gauge = pygame.Rect(width - m - px(110), top, px(110), cue.y - m - top)
            strip_w = max(px(230), round(0.15 * width))
            strip = pygame.Rect(gauge.x - m - strip_w, top, strip_w, gauge.h)
            counter = pygame.Rect(m, top, max(px(300), round(0.2 * width)), px(410))
            center = pygame.Rect(counter.right + m, top, strip.x - m - counter.right - m, cue.y - m - top)
            stage = pygame.Rect(0, header.bottom + m // 2, width, cue.y - header.bottom - m)
            choose_w = max(px(560), round(width * 0.34))
            choose = pygame.Rect(width - m - choose_w, top, choose_w, height - top - m)
            choose_stage = pygame.Rect(0, header.bottom + m // 2, choose.x - m, height - header.bottom - m)
            body = pygame.Rect(m, top, width - 2 * m, height - m - top)
            split = body.x + int(body.w * 0.5)
            summary = pygame.Rect(body.x, body.y, split - body.x - m // 2, body.h)
            replay = pygame.Rect(split + m // 2, body.y, body.right - split - m // 2, body.h)
        return cls(
            size=(width, height),
            portrait=portrait,
            u=u,
            margin=m,
            screen=screen,
            header=header,
            counter=counter,
            strip=strip,
            gauge=gauge,
            cue=cue,
            center=center,
            stage=stage,
            choose=choose,
            choose_stage=choose_stage,
            summary=summary,
            replay=replay,
        )

    def camera_rect(self, src_w: int, src_h: int, area: pygame.Rect) -> pygame.Rect:
        """Where the camera picture goes: fitted whole into `area` (the stage while coaching, so the
        cue banner never hides the feet; the whole screen behind the idle screens)."""
        return fit(src_w, src_h, area)
