"""`python -m kiosk` is the same as the `hinge-kiosk` command."""

from kiosk.cli import main

if __name__ == "__main__":  # not when a benchmark's spawned helper process imports this module
    raise SystemExit(main())
