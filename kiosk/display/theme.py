"""Colours and type sizes: high contrast, readable from three metres, safe for colour-blind eyes.

Good and bad are blue and orange (the Okabe-Ito pair that deuteranopes and protanopes tell apart),
never red and green, and never colour alone: a faulted rep also carries a mark, the dowel line also
thickens, a cue also names the fault in words. Behind a two-way mirror black is glass, so the
background is black and everything drawn is bright.

Sizes are in "units": 1 u = a thousandth of the screen's short side, so a 1080-pixel-wide portrait
screen and a 1080-pixel-tall landscape one get the same type. The cue line is 84 u (about 4 cm of
cap height on a 55-inch screen, comfortable at 3 m); nothing a user must read during a set is
under 44 u, nothing at all under 28 u.
"""

from __future__ import annotations

import math

from kiosk.reps import ROUNDED_ALIGNMENT

Color = tuple[int, int, int]

BLACK: Color = (0, 0, 0)
INK: Color = (246, 247, 249)  # primary text
MUTED: Color = (168, 176, 188)  # secondary text
FAINT: Color = (92, 100, 112)  # tertiary text, tracks of gauges
PANEL: Color = (14, 17, 22)  # panels over the camera picture: opaque, legible over any background
LINE: Color = (54, 60, 70)  # dividers, unselected tiles
TRACK: Color = (52, 58, 68)  # the empty part of gauges, timers and timelines
SLOT: Color = (30, 34, 41)  # a rep still to come in the score strip

GOOD: Color = (64, 176, 255)  # azure: clean, aligned
WARN: Color = (255, 212, 40)  # yellow: close to a limit
BAD: Color = (255, 122, 26)  # orange: a fault
ACCENT: Color = (0, 214, 170)  # the product's own colour (progress, highlights)
DEMO: Color = (255, 82, 168)  # the demo badge: unmistakable, never used for feedback
FIGURE: Color = (210, 216, 226)  # the replay and attract figure
SKELETON: Color = (236, 240, 246)

# Type sizes in units (see the module docstring).
TITLE = 96
CUE = 84
HEADLINE = 60
BODY = 44
SMALL = 34
LABEL = 28
COUNTER = 250

# Alignment (shoulder offset from the ear-hip line, kiosk.metrics) below this fraction of the
# rounded-back threshold reads as straight; between it and the threshold, as drifting.
ALIGN_OK_FRACTION = 0.5


def alignment_color(alignment: float) -> Color:
    """Colour of the virtual dowel line for an alignment reading (NaN: not measurable)."""
    if not math.isfinite(alignment):
        return FAINT
    if alignment > ROUNDED_ALIGNMENT:
        return BAD
    if alignment > ALIGN_OK_FRACTION * ROUNDED_ALIGNMENT or alignment < -ROUNDED_ALIGNMENT:
        return WARN
    return GOOD


def score_color(score: float, faulted: bool) -> Color:
    """Colour of a rep's score: faulted reps are orange whatever their number."""
    if faulted:
        return BAD
    return GOOD if score >= 85 else WARN


def set_score_color(mean: float) -> Color:
    """Colour of a set's mean score, by the number alone: nearly every set has a fault somewhere, so
    colouring by faults made a 93 orange beside a blue 88."""
    return GOOD if mean >= 85 else (WARN if mean >= 70 else BAD)


def mix(a: Color, b: Color, p: float) -> Color:
    """`a` blended toward `b` by `p` (0..1)."""
    q = 1.0 - p
    return (round(a[0] * q + b[0] * p), round(a[1] * q + b[1] * p), round(a[2] * q + b[2] * p))
