"""`python -m kiosk` is the same as the `hinge-kiosk` command."""

from kiosk.cli import main

raise SystemExit(main())
