"""`python -m bertgen.cli ...`: the same as the `bertgen` command (sweeps start their runs this way)."""
import sys

from bertgen.cli.main import main

sys.exit(main())
