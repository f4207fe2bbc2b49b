"""User-facing errors.

Every failure a kiosk operator or a command-line user can cause (a missing file, a bad config value,
an unplugged camera) is raised as a `KioskError` whose message names the cause and the fix. The CLI
prints it as one line and exits with status 2; the kiosk shows it on screen and keeps running.
"""

from pathlib import Path


class KioskError(Exception):
    """An error whose message is fit to show a user as is."""


class InputError(KioskError):
    """An input file (pose track, video, image) is missing, unreadable or malformed."""


class ConfigError(KioskError):
    """A configuration value is missing, of the wrong type or out of bounds."""


class ModelError(KioskError):
    """The pose model or its runtime is missing, corrupt or of the wrong shape."""


class SourceError(KioskError):
    """A frame source (camera, video, image) cannot be opened or stopped delivering frames."""


def file_in_the_way(folder: Path) -> Path | None:
    """The file standing where `folder` or one of its parents should be, if any: what stops the folder
    from being made or used, which the OS words only as "File exists" or "Not a directory"."""
    for p in (folder, *folder.parents):
        if p.exists():
            return None if p.is_dir() else p
    return None
