"""``python -m latentlab``: the same as the ``latentlab`` command (:mod:`latentlab.cli`)."""

import sys

from latentlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
