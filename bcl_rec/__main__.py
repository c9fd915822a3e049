"""``python -m bcl_rec`` (and ``torchrun -m bcl_rec``): the ``bcl-rec`` command line."""

import sys

from bcl_rec.cli.main import main

sys.exit(main())
