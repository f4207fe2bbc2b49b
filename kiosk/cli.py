"""The `hinge-kiosk` command (also `python -m kiosk`).

Each subcommand lives in the module that owns its concept and exposes `register(subparsers)`, which
adds its parser and sets `func(args) -> int`. Modules keep heavy imports (pygame, PyAV, the pose
runtime) inside their functions so `hinge-kiosk --help` stays fast on a Pi.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from kiosk import __version__
from kiosk.errors import KioskError

# Subcommand name -> module that registers it, in the order `--help` lists them.
COMMANDS: tuple[str, ...] = (
    "kiosk.app",  # run
    "kiosk.analyze",  # analyze
    "kiosk.bench",  # bench core | pipeline | kiosk | soak
    "kiosk.models",  # models fetch | verify | list
    "kiosk.config",  # config show | check | reference | template
    "kiosk.store",  # history
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hinge-kiosk",
        description="Hinge Mirror: real-time hip-hinge coaching from a side-view camera.",
    )
    parser.add_argument("--version", action="version", version=f"hinge-kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand without a description its one-line help as one, so `hinge-kiosk X
    --help` says what X does, as the list of commands does."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None and helps.get(name):
                    sub.description = helps[name][0].upper() + helps[name][1:] + "."
                _describe(sub)


# How long a Python thread may hold the interpreter lock while another waits (default 5 ms). The
# inference thread gives the lock up during invoke; shortening the hand-back lets it start the next
# frame right away instead of waiting behind the capture or display thread's Python work.
GIL_SWITCH_INTERVAL_S = 0.001


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    # pygame greets on stdout when first imported, which would break `--json` output.
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = None
    if args.command != "run" and threading.current_thread() is threading.main_thread():
        # `timeout` and `kill` end a command with SIGTERM: unwind as from Ctrl-C, so outputs written
        # under a temporary name are removed, not left half-written. (`run` has its own handlers, and
        # stopped by systemd before they are in place, it should die of the signal as it always has.)
        previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return int(args.func(args) or 0)
    except KioskError as exc:
        print(f"hinge-kiosk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to say, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
