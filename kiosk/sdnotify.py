"""sd_notify for the systemd service: readiness, status lines, and a watchdog fed by flowing frames.

The unit is `Type=notify` with `WatchdogSec=`: systemd waits for `READY=1`, shows the last `STATUS=`
in `systemctl status`, and restarts the kiosk when `WATCHDOG=1` stops arriving. Pinging from a timer
would keep a kiosk whose camera or inference thread hung alive forever, showing a frozen picture, so
`FlowWatchdog` pings only while processed frames keep arriving. Outside systemd everything is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _address(notify_socket: str | None) -> bytes | None:
    """The sendto() address for a $NOTIFY_SOCKET value; `@name` is Linux's abstract namespace."""
    if not notify_socket:
        return None
    if notify_socket.startswith("@"):
        return b"\0" + os.fsencode(notify_socket[1:])
    if notify_socket.startswith("/"):
        return os.fsencode(notify_socket)
    log.warning("NOTIFY_SOCKET=%r is not a unix socket path; systemd notifications are off", notify_socket)
    return None


class Notifier:
    """Sends sd_notify datagrams to $NOTIFY_SOCKET; never raises: a lost message must not stop the kiosk."""

    def __init__(self, notify_socket: str | None = None) -> None:
        self._address = _address(notify_socket)
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for (via $NOTIFY_SOCKET), or a disabled one."""
        env = os.environ if env is None else env
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *assignments: str) -> bool:
        """Send `KEY=value` lines in one datagram; True when it was handed to the socket."""
        if self._address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # A stuck service manager must not stall the display loop: drop the message instead.
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(assignments).encode(), self._address)
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify systemd (%s); further failures are not logged", exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Start-up is complete (camera open, model loaded): systemd marks the unit active."""
        return self.send("READY=1", *([_status(status)] if status else []))

    def status(self, text: str) -> bool:
        """One human-readable line for `systemctl status`."""
        return self.send(_status(text))

    def watchdog(self) -> bool:
        """Keep-alive; prefer `FlowWatchdog.tick`, which only pings while frames flow."""
        return self.send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun (flushing session history), so systemd does not read a hang into it."""
        return self.send("STOPPING=1", *([_status(status)] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _status(text: str) -> str:
    return "STATUS=" + " ".join(text.split())


def watchdog_interval_s(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """systemd's watchdog timeout in seconds when it is meant for this process, else None."""
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    target = env.get("WATCHDOG_PID")
    if target:
        try:
            if int(target) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 1_000_000


class FlowWatchdog:
    """Pings systemd's watchdog from the main loop, but only while processed frames keep arriving.

    Call `frame(t)` whenever a frame has made it through inference and `tick(now)` once per main-loop
    iteration, both with the same monotonic clock in seconds. When no frame arrived for `stall_s`
    (counted from the first tick until the first frame), pings stop and systemd restarts the service
    after `WatchdogSec=`. A hung main loop stops ticking and is restarted the same way.
    `waiting(reason)` covers the case where the kiosk knows why frames are missing and is handling it
    (camera unplugged and being reopened): pings continue, the reason shows in `systemctl status`,
    and the next frame ends the wait. Both methods may be called from different threads.
    """

    def __init__(self, notifier: Notifier, stall_s: float, interval_s: float | None = None) -> None:
        self._notifier = notifier
        self._stall_s = stall_s
        self._interval_s = watchdog_interval_s() if interval_s is None else interval_s
        self._last_frame: float | None = None
        self._last_ping: float | None = None
        self._first_tick: float | None = None
        self._waiting: str | None = None
        self._stalled = False

    @property
    def active(self) -> bool:
        """True when systemd expects pings (watchdog configured and a notify socket present)."""
        return self._interval_s is not None and self._notifier.enabled

    @property
    def stalled(self) -> bool:
        """True while frames have stopped and pings are withheld."""
        return self._stalled

    def frame(self, t: float) -> None:
        """A processed frame arrived at time `t`."""
        self._last_frame = t
        self._waiting = None

    def waiting(self, reason: str) -> None:
        """No frames are expected for a known reason the kiosk is handling; keep pinging meanwhile."""
        if reason != self._waiting:
            self._notifier.status(reason)
        self._waiting = reason

    def tick(self, now: float) -> bool:
        """Send WATCHDOG=1 when due and frames are flowing; True when a ping was sent."""
        interval = self._interval_s
        if interval is None or not self._notifier.enabled:
            return False
        if self._first_tick is None:
            self._first_tick = now  # the first frame gets `stall_s` from here
        since = self._last_frame if self._last_frame is not None else self._first_tick
        if self._waiting is None and now - since > self._stall_s:
            if not self._stalled:
                self._stalled = True
                what = "no frame yet" if self._last_frame is None else f"no frames for {now - since:.0f} s"
                text = f"stalled: {what}; systemd restarts the kiosk if this continues"
                log.warning("watchdog: %s", text)  # the status line goes with the restart
                self._notifier.status(text)
            return False
        if self._stalled:
            self._stalled = False
            log.info("watchdog: frames flowing again")
            self._notifier.status("frames flowing again")
        if self._last_ping is None or now - self._last_ping >= interval / 2:
            sent = self._notifier.watchdog()
            if sent:  # one that did not go is tried again on the next tick, not half an interval on
                self._last_ping = now
            return sent
        return False
