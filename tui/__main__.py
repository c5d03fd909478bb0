"""``python -m tui``: the same as ``atx tui``."""

import sys

from tui.cli import main

sys.exit(main())
