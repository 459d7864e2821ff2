import sys

from prepline.cli import main

sys.exit(main())
