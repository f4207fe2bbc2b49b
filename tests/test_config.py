"""The settings table, the loader's fallbacks and messages, and the files generated from the table."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import config as cfgmod
from kiosk.cli import main
from kiosk.config import (
    SETTINGS,
    Config,
    load_config,
    render_defaults,
    render_reference,
    render_template,
    render_toml,
    toml_value,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's own /etc/hinge-kiosk/config.toml and $HINGE_KIOSK_CONFIG out of the tests."""
    monkeypatch.delenv(cfgmod.ENV_CONFIG, raising=False)
    monkeypatch.setattr(cfgmod, "DEFAULT_SITE_PATH", tmp_path / "absent" / "config.toml")


def site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    return path


# ------------------------------------------------------------------------------------------ table


def test_every_setting_is_fully_declared() -> None:
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    for s in SETTINGS:
        assert s.type in (bool, int, float, str), s.name
        assert s.description.endswith(".") and "\n" not in s.description, s.name
        assert s.validate(s.default) == (s.default, True), f"{s.name}: default not allowed by its own rule"
        assert s.allowed(), s.name
        if s.type in (int, float):
            assert s.bounds or s.choices, f"{s.name}: a number needs bounds or choices"
        if s.type is str:
            assert s.choices or s.allowed_text, f"{s.name}: say which strings are allowed"


def test_the_sections_the_kiosk_reads() -> None:
    c = Config()
    assert c.session.drill == "hinge"
    assert c.session.wall_distance_in == 9.0
    assert c.session.set_size == 10 and c.session.set_count == 2
    assert c.session.idle_timeout_s == 15.0
    assert c.pose.min_score == 0.3
    assert c.display.mirror is True
    assert c.store.save_images is False  # privacy: opt-in only
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.session.drill = "wall-hinge"  # type: ignore[misc]


# ----------------------------------------------------------------------------------------- loading


def test_no_site_file_means_defaults_and_no_problems() -> None:
    loaded = load_config()
    assert loaded.config == Config()
    assert loaded.problems == []
    assert loaded.site_path is None


def test_site_values_apply(tmp_path: Path) -> None:
    path = site(
        tmp_path,
        """
        [session]
        drill = "wall-hinge"
        wall_distance_in = 8      # an integer is fine for a number
        set_size = 12.0           # a whole float is fine for an integer
        [camera]
        source = "/dev/video2"
        rotation = 180
        [audio]
        enabled = false
        """,
    )
    loaded = load_config(path)
    assert loaded.problems == []
    assert loaded.site_path == path
    s = loaded.config.session
    assert (s.drill, s.wall_distance_in, s.set_size) == ("wall-hinge", 8.0, 12)
    assert isinstance(s.wall_distance_in, float) and isinstance(s.set_size, int)
    assert loaded.config.camera.source == "/dev/video2"
    assert loaded.config.camera.rotation == 180
    assert loaded.config.audio.enabled is False
    assert loaded.config.display == Config().display


@pytest.mark.parametrize(
    ("section", "key", "value", "allowed"),
    [
        ("session", "wall_distance_in", "20", "a number from 6 to 12 in"),
        ("session", "drill", '"hinges"', 'one of "hinge", "wall-hinge", "kneeling-hinge"'),
        ("session", "user_height_cm", "90", "from 120 to 220 cm, or 0 (unknown"),
        ("session", "set_size", "10.5", "a whole number from 1 to 50 reps"),
        ("session", "set_count", '"two"', "a whole number from 1 to 10 sets"),
        ("audio", "volume", "1.5", "a number from 0 to 1"),
        ("audio", "enabled", '"yes"', "true or false"),
        ("display", "width", "true", "a whole number from 320 to 7680 px"),
        ("display", "orientation", '"sideways"', 'one of "auto", "landscape", "portrait"'),
        ("camera", "rotation", "45", "one of 0, 90, 180, 270 deg"),
        (
            "camera",
            "source",
            '"picamera"',
            '"auto", "picamera2", a /dev/videoN device (or N) or a video file path',
        ),
        ("camera", "source", '"/dev/sda"', "a /dev/videoN device"),
        ("camera", "fps", "nan", "a whole number from 5 to 120 fps"),
        ("pose", "threads", "-1", "a whole number from 1 to 16 threads, or 0 (all cores)"),
        ("pose", "min_score", "inf", "a number from 0.05 to 0.9"),
        ("store", "keep_days", "[30]", "or 0 (keep forever)"),
    ],
)
def test_bad_value_names_key_value_and_allowed_and_falls_back(
    tmp_path: Path, section: str, key: str, value: str, allowed: str
) -> None:
    # A good value in the same file still applies: only the bad key falls back.
    other = "set_count = 3" if (section, key) != ("session", "set_count") else "set_size = 7"
    text = f"[session]\n{other}\n" + (f"{key} = {value}\n" if section == "session" else "")
    if section != "session":
        text += f"[{section}]\n{key} = {value}\n"
    loaded = load_config(site(tmp_path, text))
    assert len(loaded.problems) == 1, loaded.problems
    problem = loaded.problems[0]
    assert f"{section}.{key} = " in problem
    assert allowed in problem
    default = next(s.default for s in SETTINGS if s.name == f"{section}.{key}")
    assert f"using the default {toml_value(default)}" in problem
    assert str(tmp_path / "config.toml") in problem
    assert getattr(getattr(loaded.config, section), key) == default
    assert loaded.config.session.set_count == 3 or loaded.config.session.set_size == 7


def test_bad_value_message_reads_well(tmp_path: Path) -> None:
    loaded = load_config(site(tmp_path, "[session]\nwall_distance_in = 20\n"))
    assert loaded.problems == [
        f"{tmp_path / 'config.toml'}: session.wall_distance_in = 20: expected a number from 6 to 12 in; "
        "using the default 9.0"
    ]


def test_close_choices_are_suggested(tmp_path: Path) -> None:
    loaded = load_config(site(tmp_path, '[camera]\nsource = "picamera"\n[session]\ndrill = "wall_hinge"\n'))
    assert '(did you mean "picamera2"?)' in loaded.problems[0]
    assert '(did you mean "wall-hinge"?)' in loaded.problems[1]


@pytest.mark.parametrize(
    "source", ["auto", "picamera2", "/dev/video0", "/dev/video12", "2", "clip.mp4", "/srv/a"]
)
def test_camera_sources_allowed(tmp_path: Path, source: str) -> None:
    assert load_config(site(tmp_path, f'[camera]\nsource = "{source}"\n')).problems == []


def test_unknown_keys_and_sections(tmp_path: Path) -> None:
    loaded = load_config(
        site(
            tmp_path,
            """
            drill = "wall-hinge"
            colour = "red"
            [sesion]
            set_size = 5
            [session]
            set_sise = 5
            volume = 0.5
            frobnicate = 1
            [kiosk]
            x = 1
            """,
        )
    )
    assert [p.split(": ", 1)[1] for p in loaded.problems] == [
        'drill = "wall-hinge" is outside any section (it belongs under [session]); ignored',
        "unknown key colour; ignored",
        "unknown section [sesion] (did you mean [session]?); ignored",
        "unknown key session.set_sise (did you mean session.set_size?); ignored",
        "unknown key session.volume (it belongs in [audio]); ignored",
        "unknown key session.frobnicate; ignored",
        "unknown section [kiosk]; ignored",
    ]
    assert loaded.config == Config()


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    loaded = load_config(site(tmp_path, "camera = 5\n"))
    assert loaded.problems == [f"{tmp_path / 'config.toml'}: camera = 5: expected a [camera] table; ignored"]


def test_not_toml_is_one_problem_and_all_defaults(tmp_path: Path) -> None:
    path = site(tmp_path, '[session]\ndrill = "wall-hinge"\nset_size = \n')
    loaded = load_config(path)
    assert len(loaded.problems) == 1
    assert loaded.problems[0].startswith(f"{path}: not valid TOML (")
    assert "line 3" in loaded.problems[0]
    assert loaded.problems[0].endswith("; using the defaults")
    assert loaded.config == Config()  # the good line before the error is not applied either
    assert loaded.site_path is None


def test_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    folder = tmp_path / "config.toml"
    folder.mkdir()  # reading a directory fails even as root, unlike chmod 000
    loaded = load_config(folder)
    assert loaded.problems == [f"{folder}: cannot read it (Is a directory); using the defaults"]
    assert loaded.config == Config()


def test_undecodable_file_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[session]\ndrill = "\xff\xfe"\n')
    loaded = load_config(path)
    assert len(loaded.problems) == 1 and "cannot read it" in loaded.problems[0]
    assert loaded.config == Config()


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows Notepad starts UTF-8 files with a byte-order mark, which TOML itself does not allow."""
    site = tmp_path / "site.toml"
    site.write_bytes("\ufeff[session]\nset_size = 5\n".encode())
    loaded = load_config(site)
    assert not loaded.problems and loaded.config.session.set_size == 5


def test_missing_file_is_a_problem_only_when_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.toml"
    assert load_config(missing).problems == [f"{missing}: no such file; using the defaults"]
    monkeypatch.setenv(cfgmod.ENV_CONFIG, str(missing))
    assert load_config().problems == [f"{missing}: no such file; using the defaults"]


def test_env_names_the_site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = site(tmp_path, "[session]\nset_count = 4\n")
    monkeypatch.setenv(cfgmod.ENV_CONFIG, str(path))
    loaded = load_config()
    assert loaded.site_path == path and loaded.config.session.set_count == 4


def test_overrides_win_and_are_checked(tmp_path: Path) -> None:
    path = site(tmp_path, '[session]\ndrill = "wall-hinge"\nset_count = 4\n')
    loaded = load_config(
        path,
        overrides={"session.drill": "kettlebell-deadlift", "audio": {"volume": 0.2}, "display.width": 5},
    )
    assert loaded.config.session.drill == "kettlebell-deadlift"
    assert loaded.config.session.set_count == 4
    assert loaded.config.audio.volume == 0.2
    assert loaded.problems == [
        "override: display.width = 5: expected a whole number from 320 to 7680 px; using the default 1280"
    ]


# ------------------------------------------------------------------------------- generated files


def test_packaged_defaults_match_the_table() -> None:
    committed = (REPO / "kiosk" / "defaults.toml").read_text("utf-8")
    assert committed == render_defaults(), "kiosk/defaults.toml is stale: run `python -m kiosk.config`"
    parsed = tomllib.loads(committed)
    assert {f"{sec}.{key}" for sec, body in parsed.items() for key in body} == {s.name for s in SETTINGS}


def test_reference_doc_is_up_to_date() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text("utf-8")
    assert committed == render_reference(), "docs/configuration.md is stale: run `python -m kiosk.config`"
    for s in SETTINGS:
        assert f"| `{s.key}` |" in committed


def test_template_is_all_comments_and_loads_to_defaults(tmp_path: Path) -> None:
    text = render_template()
    assert tomllib.loads(text) == {name: {} for name, _, _ in cfgmod.SECTIONS}
    for s in SETTINGS:
        assert f"# {s.key} = {toml_value(s.default)}" in text
    loaded = load_config(site(tmp_path, text))
    assert loaded.problems == [] and loaded.config == Config()


def _valid_value(s: cfgmod.Setting) -> st.SearchStrategy[Any]:
    if s.choices:
        return st.sampled_from(s.choices)
    if s.type is bool:
        return st.booleans()
    if s.type is str:
        if s.check is not None:
            return st.sampled_from(["auto", "picamera2", "/dev/video3", "gym clip.mp4"])
        return st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
    assert s.bounds is not None
    special = st.sampled_from([v for v, _ in s.special]) if s.special else st.nothing()
    lo, hi = s.bounds
    if s.type is int:
        return st.integers(int(lo), int(hi)) | special
    return st.floats(lo, hi, allow_nan=False) | special


@st.composite
def configs(draw: st.DrawFn) -> Config:
    sections: dict[str, dict[str, Any]] = {}
    for s in SETTINGS:
        sections.setdefault(s.section, {})[s.key] = draw(_valid_value(s))
    return Config(**{name: cls(**sections[name]) for name, cls, _ in cfgmod.SECTIONS})


@settings(max_examples=60)
@given(configs())
def test_rendered_config_loads_back_unchanged(tmp_path_factory: pytest.TempPathFactory, cfg: Config) -> None:
    path = tmp_path_factory.mktemp("roundtrip") / "config.toml"
    path.write_text(render_toml(cfg, "round trip"), "utf-8")
    loaded = load_config(path)
    assert loaded.problems == []
    assert loaded.config == cfg


# ------------------------------------------------------------------------------------------- CLI


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = site(tmp_path, "[session]\nset_count = 3\n")
    assert main(["config", "check", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"
    bad = tmp_path / "bad.toml"
    bad.write_text("[audio]\nvolume = 3\n[sesion]\n", "utf-8")
    assert main(["config", "check", str(bad)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "audio.volume = 3" in out[0] and "did you mean [session]?" in out[1]


def test_cli_check_notes_paths_that_are_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = f'[camera]\nsource = "/dev/video97"\n[pose]\nmodel_dir = "{tmp_path / "none"}"\n'
    assert main(["config", "check", str(site(tmp_path, text))]) == 0  # valid: the notes are not errors
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": ok") and len(out) == 3
    assert "/dev/video97 is not connected now" in out[1] and "does not exist here" in out[2]
    site(tmp_path, f'[camera]\nsource = "{tmp_path / "gone.mp4"}"\n')
    assert main(["config", "check", str(tmp_path / "config.toml")]) == 0
    assert "no such video file here" in capsys.readouterr().out
    site(tmp_path, '[camera]\nsource = "97"\n')  # N is /dev/videoN, as the kiosk opens it
    assert main(["config", "check", str(tmp_path / "config.toml")]) == 0
    assert "/dev/video97 is not connected now" in capsys.readouterr().out


def test_cli_check_without_site_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check"]) == 0
    assert "not present; the kiosk uses the packaged defaults" in capsys.readouterr().out


def test_cli_show_prints_the_effective_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = site(tmp_path, '[session]\ndrill = "kneeling-hinge"\n[audio]\nvolume = 9\n')
    assert main(["config", "show", str(path)]) == 0
    captured = capsys.readouterr()
    shown = tomllib.loads(captured.out)
    assert shown["session"]["drill"] == "kneeling-hinge"
    assert shown["audio"]["volume"] == 0.8
    assert "audio.volume = 9" in captured.err


def test_cli_reference_and_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "reference"]) == 0
    assert capsys.readouterr().out == render_reference()
    assert main(["config", "template"]) == 0
    assert capsys.readouterr().out == render_template()


def test_a_config_nested_past_pythons_stack_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    deep = site(tmp_path, "a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    loaded = load_config(deep)
    assert loaded.config == load_config(tmp_path / "none.toml").config  # the defaults
    assert any("not valid TOML" in p for p in loaded.problems)


def test_a_config_that_is_a_fifo_or_huge_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    assert any("not a regular file" in p for p in load_config(fifo).problems)  # returns: no reader
    huge = tmp_path / "huge.toml"
    huge.write_text("# padding\n" * 200_000)
    assert any("not a settings file" in p for p in load_config(huge).problems)


def test_a_home_folder_of_a_user_that_does_not_exist_is_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = site(tmp_path, '[store]\npath = "~nosuchuser-hinge/sessions.db"\n')
    assert main(["config", "check", str(bad)]) == 0
    assert "store.path ~nosuchuser-hinge/sessions.db" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("session.user_height_cm", {"0": 0, "120": 120, "220": 220}, ["119", "221", "172.5", "tall"]),
        ("session.wall_distance_in", {"6": 6.0, "12": 12.0, "7.5": 7.5}, ["5.9", "13", "nan", "inf"]),
        ("camera.roll_deg", {"-20": -20.0, "0": 0.0, "4.5": 4.5}, ["-21", "20.5"]),
        ("pose.runtime", {"auto": "auto", "litert": "litert"}, ["tflite-runtime", ""]),
        ("pose.threads", {"0": 0, "16": 16}, ["-1", "17", "2.0"]),
    ],
)
def test_a_command_line_twin_of_a_setting_allows_what_the_setting_allows(
    name: str, good: dict[str, Any], bad: list[str]
) -> None:
    """analyze's and bench's options for settings (--user-height-cm, --threads, ...) take their bounds
    from the settings table, so the two cannot drift apart."""
    parse = cfgmod.arg_type(name)
    setting = next(s for s in SETTINGS if s.name == name)
    for text, value in good.items():
        assert parse(text) == value and setting.validate(value) == (value, True)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(f"expected {setting.allowed()}")):
            parse(text)
