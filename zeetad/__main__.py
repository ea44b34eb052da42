"""``python -m zeetad COMMAND ...``: the same as the ``zeetad`` console script."""
import sys

from zeetad.cli import main

sys.exit(main())
