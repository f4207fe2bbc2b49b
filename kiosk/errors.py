"""User-facing errors.

Every failure a kiosk operator or a command-line user can cause (a missing file, a bad config value,
an unplugged camera) is raised as a `KioskError` whose message names the cause and the fix. The CLI
prints it as one line and exits with status 2; the kiosk shows it on screen and keeps running.
"""


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
