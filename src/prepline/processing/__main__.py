import sys

from prepline.processing.entrypoint import main

sys.exit(main())
