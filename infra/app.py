#!/usr/bin/env python3
"""Synthesize prepline's stack into $CDK_OUTDIR (default: infra/cdk.out), offline.

python infra/app.py                      # the defaults
cd infra && cdk synth -c env=dev ...     # what `cdk deploy` runs, with context
"""

import sys

from prepline_infra.app import main

if __name__ == "__main__":
    sys.exit(main())
