"""``python -m cvxcnn.cli``."""

import sys

from cvxcnn.cli.app import main

sys.exit(main())
