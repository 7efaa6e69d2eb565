"""``python -m tastytrade_cli``."""

import sys

from . import main

sys.exit(main())
