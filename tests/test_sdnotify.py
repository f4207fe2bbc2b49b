"""sd_notify against a real AF_UNIX datagram socket, and the frame-flow watchdog's ping policy."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.sdnotify import FlowWatchdog, Notifier, watchdog_interval_s


class Listener:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)

    def messages(self) -> list[str]:
        """Every datagram received so far, oldest first."""
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return out


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to 108 bytes; pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="sdn-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def listener(short_dir: Path) -> Iterator[tuple[Listener, str]]:
    path = str(short_dir / "notify")
    lst = Listener(path)
    yield lst, path
    lst.sock.close()


def test_messages_arrive_on_a_path_socket(listener: tuple[Listener, str]) -> None:
    lst, path = listener
    n = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready("camera open,\nmodel loaded")
    assert n.status("coaching: hinge, set 1 of 2")
    assert n.watchdog()
    assert n.stopping()
    n.close()
    assert lst.messages() == [
        "READY=1\nSTATUS=camera open, model loaded",
        "STATUS=coaching: hinge, set 1 of 2",
        "WATCHDOG=1",
        "STOPPING=1",
    ]


def test_abstract_namespace_socket() -> None:
    name = f"hinge-kiosk-test-{os.getpid()}"
    lst = Listener(b"\0" + name.encode())
    try:
        n = Notifier(f"@{name}")
        assert n.ready()
        assert lst.messages() == ["READY=1"]
    finally:
        lst.sock.close()


def test_noop_without_notify_socket() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    assert not n.ready()
    assert not n.watchdog()


def test_a_vanished_socket_is_not_an_error(short_dir: Path) -> None:
    n = Notifier(str(short_dir / "gone"))
    assert n.enabled
    assert not n.watchdog()
    assert not n.status("still running")


def test_non_unix_notify_socket_is_ignored() -> None:
    assert not Notifier("vsock:2:1234").enabled


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "20000000"}, 20.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "4242"}, 20.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval_s(env, pid=4242) == expected


def watchdog_pings(messages: list[str]) -> int:
    return sum(m == "WATCHDOG=1" for m in messages)


def test_pings_at_half_the_interval_while_frames_flow(listener: tuple[Listener, str]) -> None:
    lst, path = listener
    wd = FlowWatchdog(Notifier(path), stall_s=5.0, interval_s=10.0)
    assert wd.active
    sent = []
    for i in range(61):  # 30 s of a 2 fps main loop, a frame every iteration
        t = i * 0.5
        wd.frame(t)
        sent.append(wd.tick(t))
    # Pings at t = 0, 5, 10, ..., 30: never more often than interval/2, never less.
    assert sum(sent) == 7
    assert watchdog_pings(lst.messages()) == 7


def test_a_ping_that_did_not_go_is_tried_again_on_the_next_tick(
    listener: tuple[Listener, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # systemd's queue full for a moment: waiting half an interval to try again would leave no margin.
    lst, path = listener
    notifier = Notifier(path)
    wd = FlowWatchdog(notifier, stall_s=5.0, interval_s=10.0)
    real = notifier.watchdog
    monkeypatch.setattr(notifier, "watchdog", lambda: False)
    wd.frame(0.0)
    assert not wd.tick(0.0)
    monkeypatch.setattr(notifier, "watchdog", real)
    wd.frame(0.5)
    assert wd.tick(0.5)
    assert watchdog_pings(lst.messages()) == 1


def test_hung_camera_stops_pings_and_says_why(listener: tuple[Listener, str], caplog) -> None:
    lst, path = listener
    wd = FlowWatchdog(Notifier(path), stall_s=5.0, interval_s=10.0)
    wd.frame(0.0)
    assert wd.tick(0.0)
    # The main loop keeps running but no frame comes: pings stop once the stall exceeds 5 s.
    with caplog.at_level(logging.WARNING, logger="kiosk.sdnotify"):
        pinged_after_stall = [wd.tick(t / 2) for t in range(11, 200)]
    # Logged too: the status line is gone once systemd has restarted the kiosk.
    assert [r.message for r in caplog.records] == [
        "watchdog: stalled: no frames for 6 s; systemd restarts the kiosk if this continues"
    ]
    assert not any(pinged_after_stall)
    assert wd.stalled
    messages = lst.messages()
    assert watchdog_pings(messages) == 1
    stall_status = [m for m in messages if m.startswith("STATUS=stalled")]
    assert len(stall_status) == 1  # reported once, not every tick
    assert "no frames for 6 s" in stall_status[0]
    # Frames come back: the status says so and pings resume at once.
    wd.frame(100.0)
    assert wd.tick(100.0)
    assert not wd.stalled
    assert lst.messages() == ["STATUS=frames flowing again", "WATCHDOG=1"]


def test_first_frame_gets_stall_s_from_the_first_tick(listener: tuple[Listener, str]) -> None:
    lst, path = listener
    wd = FlowWatchdog(Notifier(path), stall_s=5.0, interval_s=10.0)
    assert wd.tick(100.0)  # start-up: no frame yet, but within the allowance
    assert not wd.tick(105.5)
    assert lst.messages()[-1].startswith("STATUS=stalled: no frame yet")


def test_waiting_keeps_pinging_with_a_reason(listener: tuple[Listener, str]) -> None:
    lst, path = listener
    wd = FlowWatchdog(Notifier(path), stall_s=5.0, interval_s=10.0)
    wd.frame(0.0)
    wd.waiting("camera unplugged; retrying")
    wd.waiting("camera unplugged; retrying")  # repeated calls do not repeat the status
    assert [wd.tick(float(t)) for t in range(0, 21, 5)] == [True] * 5
    assert not wd.stalled
    messages = lst.messages()
    assert messages.count("STATUS=camera unplugged; retrying") == 1
    assert watchdog_pings(messages) == 5
    # The next frame ends the wait; without further frames the stall rule applies again.
    wd.frame(21.0)
    assert not wd.tick(27.0)
    assert wd.stalled


def test_inactive_without_systemd_watchdog(
    listener: tuple[Listener, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lst, path = listener
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    no_watchdog = FlowWatchdog(Notifier(path), stall_s=5.0)
    no_socket = FlowWatchdog(Notifier(None), stall_s=5.0, interval_s=10.0)
    for wd in (no_watchdog, no_socket):
        wd.frame(0.0)
        assert not wd.active
        assert not wd.tick(0.0)
    assert lst.messages() == []
