import sys

from invsolve.cli import main

sys.exit(main())
