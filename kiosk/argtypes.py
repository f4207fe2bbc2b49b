"""Value types for the command line, shared by the subcommands: a bad value gets argparse's one-line
error and exit status 2 before anything starts, instead of being used as it stands."""

from __future__ import annotations

import argparse
from collections.abc import Callable

MIN_WINDOW = (320, 240)  # the smallest screen the layouts are drawn for (and display.width's bound)


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number of at least `minimum` (and at most `maximum`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: at least {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{text!r}: at most {maximum}")
        return value

    return parse


def number(low: float, high: float, special: float | None = None) -> Callable[[str], float]:
    """A number from `low` to `high`, or exactly `special` (a value with its own meaning, like 0)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a number") from None
        if not (low <= value <= high or value == special):
            also = f" (or {special:g})" if special is not None else ""
            raise argparse.ArgumentTypeError(f"{text!r}: expected {low:g} to {high:g}{also}")
        return value

    return parse


def window_size(text: str) -> tuple[int, int]:
    """WIDTHxHEIGHT, at least `MIN_WINDOW`."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, like 1280x720") from None
    if w < MIN_WINDOW[0] or h < MIN_WINDOW[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: at least {MIN_WINDOW[0]}x{MIN_WINDOW[1]}")
    return w, h
