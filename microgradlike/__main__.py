"""``python -m microgradlike``: see `microgradlike.cli`."""

from .cli import main

raise SystemExit(main())
