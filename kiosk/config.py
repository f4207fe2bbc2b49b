"""Kiosk configuration: one declarative table of settings, a TOML loader that never stops the kiosk.

Every setting is declared once, below, as a field of a frozen per-section dataclass with its default,
bounds or choices, unit and a one-line description; `SETTINGS` is the table derived from those fields.
The packaged `kiosk/defaults.toml`, the site-file template and `docs/configuration.md` are generated
from it (tests keep them in step). Layers: packaged defaults, then the site file
(`/etc/hinge-kiosk/config.toml`, or `$HINGE_KIOSK_CONFIG`), then overrides from the command line.
A bad value becomes a problem that names the key, the value and what is allowed, and that key keeps
its default: an operator's typo must show on screen, not leave a blank mirror on the gym floor.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib.resources
import json
import math
import os
import re
import sys
import textwrap
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.argtypes import MIN_WINDOW
from kiosk.backends import MAX_THREADS
from kiosk.coach import MIN_AUDIO_GAP_S
from kiosk.drills import DRILLS as ALL_DRILLS
from kiosk.metrics import MAX_ROLL_DEG
from kiosk.pipeline import STALL_S
from kiosk.sources import camera_device, is_media_file

DEFAULT_SITE_PATH = Path("/etc/hinge-kiosk/config.toml")
ENV_CONFIG = "HINGE_KIOSK_CONFIG"
DRILLS = tuple(ALL_DRILLS)


def _camera_source(value: str) -> bool:
    device = camera_device(value)  # /dev/... or just N
    if device is not None:
        return re.fullmatch(r"/dev/video\d+", device) is not None
    if not is_media_file(value):  # "auto", "picamera2"
        return True
    return "/" in value or "." in Path(value).name  # a video file, by path or by name with a suffix


def _setting(
    default: Any,
    description: str,
    *,
    bounds: tuple[float, float] | None = None,
    choices: tuple[Any, ...] = (),
    special: tuple[tuple[Any, str], ...] = (),
    unit: str = "",
    check: Callable[[Any], bool] | None = None,
    allowed: str = "",
) -> Any:
    """A dataclass field carrying its spec: `special` values are allowed outside `bounds`, with a meaning."""
    spec = {
        "description": description,
        "bounds": bounds,
        "choices": choices,
        "special": special,
        "unit": unit,
        "check": check,
        "allowed": allowed,
    }
    return field(default=default, metadata={"setting": spec})


@dataclass(frozen=True)
class CameraConfig:
    """Where frames come from and how they are captured."""

    source: str = _setting(
        "auto",
        "Frame source: the Pi camera (picamera2), else the first USB camera when auto; "
        "or a /dev/videoN device (or just N), or a video file to replay.",
        check=_camera_source,
        allowed='"auto", "picamera2", a /dev/videoN device (or N) or a video file path',
    )
    width: int = _setting(1280, "Width of the camera's main stream.", bounds=(320, 4608), unit="px")
    height: int = _setting(720, "Height of the camera's main stream.", bounds=(240, 3496), unit="px")
    fps: int = _setting(30, "Frame rate asked of the camera.", bounds=(5, 120), unit="fps")
    rotation: int = _setting(
        0,
        "Rotation applied to camera frames, for a camera mounted sideways or upside down.",
        choices=(0, 90, 180, 270),
        unit="deg",
    )
    roll_deg: float = _setting(
        0.0,
        "How far the picture (upright, after camera.rotation) is turned clockwise from level: a door "
        "frame whose top leans right in the camera's picture reads positive (on the mirrored screen it "
        "leans left). The balance, wall and lean checks undo it. Better still, level the camera.",
        bounds=(-MAX_ROLL_DEG, MAX_ROLL_DEG),
        unit="deg",
    )
    stall_timeout_s: float = _setting(
        10.0,
        "Seconds without a processed frame before the kiosk stops feeding the service watchdog, "
        f"so systemd restarts it. A camera that stops sending is reopened first, after {STALL_S:g} s, "
        "with no restart.",
        bounds=(2, 120),
        unit="s",
    )
    standby_after_s: float = _setting(
        60.0,
        "Seconds with nobody in view before the kiosk goes on standby: the pose model then looks at "
        "only camera.standby_fps frames a second, so a Pi left on overnight is not running flat out.",
        bounds=(10, 3600),
        special=((0, "never"),),
        unit="s",
    )
    standby_fps: int = _setting(
        5,
        "Frames a second the pose model looks at on standby: enough to see someone walk up.",
        bounds=(1, 30),
        unit="fps",
    )


@dataclass(frozen=True)
class DisplayConfig:
    """The screen behind the mirror."""

    fullscreen: bool = _setting(True, "Fill the screen; false opens a window of width x height instead.")
    width: int = _setting(1280, "Window width when not fullscreen.", bounds=(MIN_WINDOW[0], 7680), unit="px")
    height: int = _setting(720, "Window height when not fullscreen.", bounds=(MIN_WINDOW[1], 4320), unit="px")
    orientation: str = _setting(
        "auto",
        "Screen layout: auto follows the screen's shape; portrait suits a screen mounted upright.",
        choices=("auto", "landscape", "portrait"),
    )
    mirror: bool = _setting(True, "Flip the picture left to right so it moves like a mirror.")
    show_fps: bool = _setting(False, "Show frame rate and inference time in a corner, for diagnosis.")
    show_level: bool = _setting(
        False,
        "Draw plumb lines over the camera picture, turned by camera.roll_deg, for installing: they run "
        "parallel to the room's door frames and wall corners when the camera is level (or its roll is set).",
    )
    max_fps: int = _setting(
        30,
        "Redraw at most this often; the camera gives 30 frames a second, more takes CPU from the model.",
        bounds=(10, 120),
        unit="fps",
    )
    sleep_after_s: float = _setting(
        900.0,
        "Seconds with nobody in view before the screen goes black: behind two-way glass a black screen "
        "is a plain mirror, and an empty gym has no panel glowing all night. Anyone who steps into view "
        "wakes it: the camera keeps watching (at camera.standby_fps once on standby).",
        bounds=(30, 86400),
        special=((0, "never"),),
        unit="s",
    )


@dataclass(frozen=True)
class PoseConfig:
    """The pose model and its runtime."""

    runtime: str = _setting(
        "auto",
        "Inference runtime: auto uses ai-edge-litert when installed, else tflite-runtime.",
        choices=("auto", "litert", "tflite"),
    )
    threads: int = _setting(
        0, "CPU threads for inference.", bounds=(1, MAX_THREADS), special=((0, "all cores"),), unit="threads"
    )
    model_dir: str = _setting(
        "",
        'Folder holding the pose model; "" means $HINGE_KIOSK_MODEL_DIR, else the default model folder.',
        allowed="a folder path, or an empty string",
    )
    min_score: float = _setting(
        0.3, "Keypoint confidence below which a keypoint counts as not seen.", bounds=(0.05, 0.9)
    )


@dataclass(frozen=True)
class SessionConfig:
    """The drill, the person, and the shape of a session."""

    drill: str = _setting(
        "hinge",
        'Drill to coach; with drill_select = "pose" it is the drill shown until someone picks another.',
        choices=DRILLS,
    )
    drill_select: str = _setting(
        "config",
        "How the drill is chosen: config uses drill; pose lets a person pick one by holding a pose.",
        choices=("config", "pose"),
    )
    wall_distance_in: float = _setting(
        9.0,
        "Distance from heels to wall, in inches (coaching sources say 6 to 12): the real wall of the "
        "wall-hinge drill, the drawn one of the hinge.",
        bounds=(6, 12),
        unit="in",
    )
    user_height_cm: int = _setting(
        0,
        "Height of the person: places the wall tap for that height (unknown: placed for a 195 cm "
        "lifter, so touching a real wall always counts).",
        bounds=(120, 220),
        special=((0, "unknown"),),
        unit="cm",
    )
    set_size: int = _setting(10, "Reps per set.", bounds=(1, 50), unit="reps")
    set_count: int = _setting(2, "Sets per session.", bounds=(1, 10), unit="sets")
    rest_s: float = _setting(
        60.0,
        "Rest between sets. The set's summary and its worst rep's replay show meanwhile, so it is "
        "never shorter than they need.",
        bounds=(10, 600),
        unit="s",
    )
    idle_timeout_s: float = _setting(
        15.0, "Seconds with nobody in view before the session ends.", bounds=(5, 600), unit="s"
    )


@dataclass(frozen=True)
class AudioConfig:
    """Spoken and sounded cues."""

    enabled: bool = _setting(True, "Play coaching cues through the speaker.")
    volume: float = _setting(0.8, "Cue volume, from silent (0) to full (1).", bounds=(0, 1))
    device: str = _setting(
        "",
        'ALSA output device, as `aplay -L` lists it; "" means the default, the first sound card '
        "(on a Pi 4 that is the headphone jack, not HDMI; on the desktop image, PipeWire, which the "
        "service cannot reach). Examples: sysdefault:CARD=vc4hdmi0 (the first HDMI port), "
        "sysdefault:CARD=Headphones, sysdefault:CARD=<a USB speaker's card name>.",
        allowed="an ALSA device name, or an empty string",
    )
    min_cue_interval_s: float = _setting(
        MIN_AUDIO_GAP_S,
        "Shortest gap between two cues, so corrections do not pile up.",
        bounds=(0.5, 30),
        unit="s",
    )


@dataclass(frozen=True)
class StoreConfig:
    """Session history on this device."""

    path: str = _setting(
        "",
        'History database; "" means /var/lib/hinge-kiosk/sessions.db when that folder is writable, '
        "else $XDG_STATE_HOME/hinge-kiosk/sessions.db.",
        allowed="a file path, or an empty string",
    )
    save_images: bool = _setting(
        False,
        "Privacy opt-in: keep one still of each rep's bottom position with the history. "
        "Off: no picture is ever written.",
    )
    keep_days: int = _setting(
        180, "Days of history to keep.", bounds=(1, 3650), special=((0, "keep forever"),), unit="days"
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration; sections are attributes (`cfg.session.drill`)."""

    camera: CameraConfig = field(default_factory=CameraConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    store: StoreConfig = field(default_factory=StoreConfig)


# ------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Setting:
    """One row of the table: a key with its type, default, what is allowed, unit and description."""

    section: str
    key: str
    type: type
    default: Any
    description: str
    bounds: tuple[float, float] | None = None
    choices: tuple[Any, ...] = ()
    special: tuple[tuple[Any, str], ...] = ()
    unit: str = ""
    check: Callable[[Any], bool] | None = None
    allowed_text: str = ""

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def type_name(self) -> str:
        return {bool: "boolean", int: "integer", float: "number", str: "string"}[self.type]

    def allowed(self) -> str:
        """What a value must be, in words."""
        if self.choices:
            return "one of " + ", ".join(toml_value(c) for c in self.choices) + self._unit()
        if self.allowed_text:
            return self.allowed_text
        if self.type is bool:
            return "true or false"
        if self.bounds is not None:
            lo, hi = (f"{b:g}" for b in self.bounds)
            kind = "a whole number" if self.type is int else "a number"
            text = f"{kind} from {lo} to {hi}{self._unit()}"
            for value, meaning in self.special:
                text += f", or {toml_value(value)} ({meaning})"
            return text
        return "a string"

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def validate(self, value: Any) -> tuple[Any, bool]:
        """(the value converted to the setting's type, whether it is allowed)."""
        if isinstance(value, bool) != (self.type is bool):
            return value, False
        if self.type is int:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                return value, False
        elif self.type is float:
            if not isinstance(value, int | float) or not math.isfinite(value):
                return value, False
            value = float(value)
        elif not isinstance(value, self.type):
            return value, False
        if self.choices:
            return value, value in self.choices
        if any(value == s for s, _ in self.special):
            return value, True
        if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
            return value, False
        return value, self.check is None or self.check(value)


def _build_table() -> tuple[tuple[str, type, str], tuple[Setting, ...]]:
    sections = []
    rows = []
    for sec in dataclasses.fields(Config):
        cls = typing.get_type_hints(Config)[sec.name]
        sections.append((sec.name, cls, (cls.__doc__ or "").strip()))
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            spec = f.metadata["setting"]
            rows.append(
                Setting(
                    section=sec.name,
                    key=f.name,
                    type=hints[f.name],
                    default=f.default,
                    description=spec["description"],
                    bounds=spec["bounds"],
                    choices=spec["choices"],
                    special=spec["special"],
                    unit=spec["unit"],
                    check=spec["check"],
                    allowed_text=spec["allowed"],
                )
            )
    return tuple(sections), tuple(rows)


# (section name, its dataclass, its one-line description) in file order, and every setting.
SECTIONS: tuple[tuple[str, type, str], ...]
SETTINGS: tuple[Setting, ...]
SECTIONS, SETTINGS = _build_table()
_BY_NAME = {s.name: s for s in SETTINGS}


def arg_type(name: str) -> Callable[[str], Any]:
    """An argparse type for a command-line option that stands for the setting `name` (analyze's
    `--wall-distance-in` for session.wall_distance_in, ...): the same type, bounds and special
    values, and the same words for what is allowed."""
    setting = _BY_NAME[name]

    def parse(text: str) -> Any:
        value: Any = text
        try:
            if setting.type is int:
                value = int(text)
            elif setting.type is float:
                value = float(text)
        except ValueError:
            value = None
        if value is None or not setting.validate(value)[1]:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {setting.allowed()}")
        return value

    return parse


def add_setting_option(
    parser: argparse.ArgumentParser, flag: str, name: str, what: str, metavar: str | None = None
) -> None:
    """Add `flag`, the command-line twin of the setting `name`: its type, bounds and default, and a
    help text of `what` followed by what is allowed."""
    setting = _BY_NAME[name]
    parser.add_argument(
        flag,
        type=arg_type(name),
        default=setting.default,
        metavar=metavar,
        help=f"{what}: {setting.allowed()} (default: {toml_value(setting.default)})",
    )


# ------------------------------------------------------------------------------------ the loader


@dataclass(frozen=True)
class LoadedConfig:
    """The effective configuration and every problem met on the way (each already fell back)."""

    config: Config
    problems: list[str]
    site_path: Path | None  # the site file that was read, None when there was none


def site_config_path() -> Path:
    """`$HINGE_KIOSK_CONFIG`, else `/etc/hinge-kiosk/config.toml`."""
    return Path(os.environ.get(ENV_CONFIG) or DEFAULT_SITE_PATH)


MAX_CONFIG_BYTES = 1 << 20  # a settings file is a few kilobytes


def _read_config(path: Path) -> str:
    """The file's text. Only a regular file of sensible size is read: a FIFO would block the
    kiosk's start for ever, and a device or a huge file is no settings file."""
    if path.exists() and not (path.is_file() or path.is_dir()):  # a folder fails to open, as it should
        raise OSError("not a regular file: a pipe or a device")
    with path.open("rb") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise OSError(f"larger than {MAX_CONFIG_BYTES // 1024} KiB: not a settings file")
    return data.decode("utf-8-sig")  # Windows editors start UTF-8 files with a byte-order mark


def load_config(
    site_path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> LoadedConfig:
    """Packaged defaults, then the site file, then `overrides`; bad entries become problems.

    With `site_path` None the site file is `site_config_path()`, and its absence is normal (all
    defaults). A path given here or in `$HINGE_KIOSK_CONFIG` that does not exist is a problem.
    `overrides` maps sections to `{key: value}` tables, or `"section.key"` to a value.
    """
    problems: list[str] = []
    values = {s.name: s.default for s in SETTINGS}
    packaged = importlib.resources.files("kiosk").joinpath("defaults.toml")
    try:
        _apply(tomllib.loads(packaged.read_text("utf-8")), "packaged defaults", values, problems)
    except (OSError, tomllib.TOMLDecodeError) as exc:  # a damaged install: the table still has them
        problems.append(f"packaged defaults {packaged}: unusable ({exc}); reinstall hinge-kiosk")

    explicit = site_path is not None or bool(os.environ.get(ENV_CONFIG))
    path = Path(site_path) if site_path is not None else site_config_path()
    read_path: Path | None = None
    try:
        text = _read_config(path)
    except FileNotFoundError:
        if explicit:
            problems.append(f"{path}: no such file; using the defaults")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problems.append(f"{path}: cannot read it ({reason}); using the defaults")
    else:
        try:
            table = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:  # nested past Python's stack
            problems.append(f"{path}: not valid TOML ({exc}); using the defaults")
        else:
            read_path = path
            _apply(table, str(path), values, problems)
    if overrides:
        _apply(_nest(overrides), "override", values, problems)
    return LoadedConfig(_build(values), problems, read_path)


def _nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`{"session.drill": x}` and `{"session": {"drill": x}}` both become the nested form."""
    nested: dict[str, Any] = {}
    for name, value in overrides.items():
        section, dot, key = name.partition(".")
        if dot:
            nested.setdefault(section, {})[key] = value
        else:
            nested[name] = value
    return nested


def _apply(table: Mapping[str, Any], source: str, values: dict[str, Any], problems: list[str]) -> None:
    sections = [name for name, _, _ in SECTIONS]
    for section, body in table.items():
        if section not in sections:
            problems.append(f"{source}: {_unknown(section, body)}; ignored")
            continue
        if not isinstance(body, Mapping):
            problems.append(
                f"{source}: {section} = {toml_value(body)}: expected a [{section}] table; ignored"
            )
            continue
        for key, value in body.items():
            setting = _BY_NAME.get(f"{section}.{key}")
            if setting is None:
                problems.append(f"{source}: {_unknown_key(section, key)}; ignored")
                continue
            converted, ok = setting.validate(value)
            if ok:
                values[setting.name] = converted
            else:
                problems.append(
                    f"{source}: {setting.name} = {toml_value(value)}: expected {setting.allowed()}"
                    f"{_suggestion(setting, value)}; using the default {toml_value(setting.default)}"
                )


def _unknown(name: str, body: Any) -> str:
    """An unknown top-level name: a misspelt section, or a key written outside its section."""
    if not isinstance(body, Mapping):
        owners = [s.section for s in SETTINGS if s.key == name]
        if owners:
            return f"{name} = {toml_value(body)} is outside any section (it belongs under [{owners[0]}])"
        return f"unknown key {name}"
    close = difflib.get_close_matches(name, [section for section, _, _ in SECTIONS], n=1)
    return f"unknown section [{name}]" + (f" (did you mean [{close[0]}]?)" if close else "")


def _unknown_key(section: str, key: str) -> str:
    keys = [s.key for s in SETTINGS if s.section == section]
    close = difflib.get_close_matches(key, keys, n=1)
    if close:
        return f"unknown key {section}.{key} (did you mean {section}.{close[0]}?)"
    elsewhere = [s.name for s in SETTINGS if s.key == key]
    if elsewhere:
        return f"unknown key {section}.{key} (it belongs in [{elsewhere[0].split('.')[0]}])"
    return f"unknown key {section}.{key}"


def _suggestion(setting: Setting, value: Any) -> str:
    if not isinstance(value, str):
        return ""
    words = [c for c in setting.choices if isinstance(c, str)]
    if setting.check is _camera_source:
        words = ["auto", "picamera2"]
    close = difflib.get_close_matches(value, words, n=1, cutoff=0.6)
    return f" (did you mean {toml_value(close[0])}?)" if close else ""


def _build(values: Mapping[str, Any]) -> Config:
    return Config(
        **{
            name: cls(**{s.key: values[s.name] for s in SETTINGS if s.section == name})
            for name, cls, _ in SECTIONS
        }
    )


# ---------------------------------------------------------------------------------- rendering


def toml_value(value: Any) -> str:
    """A scalar as TOML writes it (`true`, `9.0`, `"auto"`); other values as Python shows them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else "inf")
    if isinstance(value, str):  # JSON's escapes are TOML's, bar DEL, which TOML wants escaped too
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return repr(value)


def render_toml(config: Config, header: str, comment_out: bool = False) -> str:
    """`config` as a documented TOML file; `comment_out` comments every value (a site-file template)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for name, _, doc in SECTIONS:
        lines += ["", f"# {doc}", f"[{name}]"]
        section = getattr(config, name)
        for s in (s for s in SETTINGS if s.section == name):
            lines += ["# " + line for line in textwrap.wrap(f"{s.description} Allowed: {s.allowed()}.", 98)]
            lines.append(("# " if comment_out else "") + f"{s.key} = {toml_value(getattr(section, s.key))}")
    return "\n".join(lines) + "\n"


DEFAULTS_HEADER = (
    "Packaged defaults of hinge-kiosk, generated from the table in kiosk/config.py: do not edit.\n"
    "Override them in the site file (/etc/hinge-kiosk/config.toml) rather than here."
)

TEMPLATE_HEADER = (
    "Hinge Mirror site configuration. Uncomment a key and change its value to override the default;\n"
    "keys left commented keep their defaults. Check this file with `hinge-kiosk config check`, then\n"
    "apply it with `sudo systemctl restart hinge-kiosk`. Reference: docs/configuration.md."
)


def render_defaults() -> str:
    """The text of `kiosk/defaults.toml`."""
    return render_toml(Config(), DEFAULTS_HEADER)


def render_template() -> str:
    """A site file with every key commented out, for `/etc/hinge-kiosk/config.toml`."""
    return render_toml(Config(), TEMPLATE_HEADER, comment_out=True)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_reference() -> str:
    """The Markdown configuration reference (`docs/configuration.md`)."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `hinge-kiosk config reference` from kiosk/config.py. Do not edit by hand. -->",
        "",
        "The kiosk reads its packaged defaults, then the site file `/etc/hinge-kiosk/config.toml`",
        f"(another file when `${ENV_CONFIG}` names one). The site file only needs the keys you change:",
        "",
        "```toml",
        "[session]",
        'drill = "wall-hinge"',
        "wall_distance_in = 8",
        "```",
        "",
        "A value of the wrong type, out of bounds or not among the choices does not stop the kiosk: it shows",
        "the problem on screen, naming the key, the value and what is allowed, and uses that key's default.",
        "An unreadable file or one that is not valid TOML is reported the same way and leaves every key",
        "at its default. Unknown keys are reported too, with the closest known key.",
        "",
        "- `hinge-kiosk config check [FILE]` lists the problems in a file (exit status 2 if any).",
        "- `hinge-kiosk config show` prints the configuration in effect, as TOML.",
        "- `hinge-kiosk config template` prints a site file with every key commented out.",
        "- `sudo systemctl restart hinge-kiosk` applies a changed site file.",
    ]
    for name, _, doc in SECTIONS:
        out += ["", f"## [{name}]", "", doc, "", "| Key | Type | Default | Allowed | Description |"]
        out.append("|---|---|---|---|---|")
        for s in (s for s in SETTINGS if s.section == name):
            out.append(
                f"| `{s.key}` | {s.type_name} | `{toml_value(s.default)}` | {_md(s.allowed())} "
                f"| {_md(s.description)} |"
            )
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------- CLI


def _cmd_check(args: argparse.Namespace) -> int:
    loaded = load_config(args.file)
    path = Path(args.file) if args.file else site_config_path()
    for problem in loaded.problems:
        print(problem)
    if loaded.problems:
        return 2
    if loaded.site_path is None:
        print(f"{path}: not present; the kiosk uses the packaged defaults")
    else:
        print(f"{path}: ok")
    for note in _path_notes(loaded.config):
        print(f"note: {note}")
    return 0


def _path_notes(cfg: Config) -> list[str]:
    """Paths in a valid configuration that do not exist on this machine. Notes, not errors: a file
    for a Pi is often checked elsewhere, and a camera may be plugged in later."""
    notes = []
    source = cfg.camera.source
    device = camera_device(source)
    if device is not None and not Path(device).exists():
        notes.append(
            f"camera.source {source}: {device} is not connected now (the kiosk runs its demo until it is)"
        )
    elif is_media_file(source) and not Path(source).is_file():
        notes.append(f"camera.source {source}: no such video file here")
    if cfg.pose.model_dir and not Path(cfg.pose.model_dir).is_dir():
        notes.append(f"pose.model_dir {cfg.pose.model_dir} does not exist here (the kiosk runs its demo)")
    if cfg.store.path:
        try:
            folder = Path(cfg.store.path).expanduser().parent
        except RuntimeError as exc:  # "~name/..." for a user that does not exist
            return [*notes, f"store.path {cfg.store.path}: {str(exc).rstrip('.')}; give an absolute path"]
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            notes.append(f"store.path {cfg.store.path}: {folder} is not writable by this user")
    return notes


def _cmd_show(args: argparse.Namespace) -> int:
    loaded = load_config(args.file)
    for problem in loaded.problems:
        print(f"hinge-kiosk: {problem}", file=sys.stderr)
    source = str(loaded.site_path) if loaded.site_path else "no site file"
    print(render_toml(loaded.config, f"Configuration in effect: packaged defaults + {source}."), end="")
    return 0


def _cmd_reference(args: argparse.Namespace) -> int:
    print(render_reference(), end="")
    return 0


def _cmd_template(args: argparse.Namespace) -> int:
    print(render_template(), end="")
    return 0


def register(subparsers: Any) -> None:
    """Add `config check | show | reference | template`."""
    parser = subparsers.add_parser("config", help="check and show the kiosk configuration")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    site = f"${ENV_CONFIG} or {DEFAULT_SITE_PATH}"
    p = sub.add_parser("check", help="list the problems in a site file (exit status 2 when any)")
    p.add_argument("file", nargs="?", metavar="FILE", help=f"file to check (default: {site})")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("show", help="print the configuration in effect as TOML")
    p.add_argument("file", nargs="?", metavar="FILE", help=f"site file (default: {site})")
    p.set_defaults(func=_cmd_show)
    p = sub.add_parser("reference", help="print the Markdown reference of every key")
    p.set_defaults(func=_cmd_reference)
    p = sub.add_parser("template", help="print a site file with every key commented out")
    p.set_defaults(func=_cmd_template)


def _write_generated() -> None:
    """Regenerate the files derived from the table (run `python -m kiosk.config` in a checkout)."""
    root = Path(__file__).resolve().parent.parent
    (root / "kiosk" / "defaults.toml").write_text(render_defaults(), "utf-8")
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "configuration.md").write_text(render_reference(), "utf-8")


if __name__ == "__main__":
    _write_generated()
