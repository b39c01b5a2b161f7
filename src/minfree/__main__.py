"""Allow ``python -m minfree``."""

from minfree.cli.main import main

raise SystemExit(main())
