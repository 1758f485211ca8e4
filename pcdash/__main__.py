import sys

from pcdash.cli import main

sys.exit(main())
