"""The application ``smspark-submit`` runs on a Spark job's primary instance: prepline on Spark.

``prepline job create --engine spark`` ships this file as ``prepline_spark.py`` in the job's
``prepline`` input, beside ``prepline.zip`` (prepline's source) and ``requirements.txt`` (its
dependencies). SageMaker's Spark container has neither: prepline is imported from the zip, and
the dependencies it lacks are installed into a private folder of the driver. Only the driver needs
them: every step runs as Spark SQL, so the executors never run prepline's Python. Then the job runs
as ``python -m prepline.processing`` does, with the arguments given (``--engine spark``).

Standard library only until prepline is importable: this file runs before anything is installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "prepline.zip")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
DEPENDENCIES = os.path.join(os.environ.get("TMPDIR", "/tmp"), "prepline-dependencies")
MESSAGE_LIMIT = 1024


def unmet(requirements: list[str]) -> list[str]:
    """The requirements that the installed distributions do not satisfy (missing, or another version)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip vendors it; without either, versions cannot be compared: install everything
        Requirement = None  # type: ignore[assignment,misc]
    missing = []
    for line in requirements:
        name = re.split(r"[\s<>=!~;\[(]", line, maxsplit=1)[0]
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if Requirement is None or not Requirement(line).specifier.contains(installed, prereleases=True):
            missing.append(line)
    return missing


def install(requirements: list[str], target: str) -> str | None:
    """pip-install into ``target`` (not the image's site-packages); returns why it failed, or None."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-input", "--disable-pip-version-check",
               "--target", target, *requirements]
    print(f"prepline: installing {len(requirements)} dependencies into {target}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return None
    tail = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()][-3:]
    return " / ".join(tail) or f"pip exited with code {done.returncode}"


def _opt_ml(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--opt-ml" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--opt-ml="):
            return arg.split("=", 1)[1]
    return "/opt/ml"


def _fail(argv: list[str], text: str) -> int:
    """Report as the in-container entrypoint does: stderr, and /opt/ml/output/message for ExitMessage."""
    print(f"error: {text}", file=sys.stderr, flush=True)
    try:
        folder = os.path.join(_opt_ml(argv), "output")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "message"), "wb") as handle:
            handle.write(text.encode("utf-8")[:MESSAGE_LIMIT])
    except OSError:
        pass
    return 2


def main(argv: list[str]) -> int:
    if not os.path.isfile(PACKAGE):
        return _fail(argv, f"prepline.zip is missing beside {os.path.basename(__file__)} in {HERE}: "
                           "write the request again with prepline job create --engine spark")
    with open(REQUIREMENTS, encoding="utf-8") as handle:
        requirements = [ln.strip() for ln in handle if ln.strip() and not ln.startswith("#")]
    needed = unmet(requirements)
    if needed:
        problem = install(needed, DEPENDENCIES)
        if problem:
            return _fail(argv, f"could not install prepline's dependencies ({', '.join(needed)}): {problem}. "
                               "The job needs to reach PyPI (no network isolation; a VPC needs a NAT gateway), "
                               "or an image that has them (--image)")
        sys.path.insert(0, DEPENDENCIES)
    sys.path.insert(0, PACKAGE)  # first: this job's prepline, whatever the image holds
    importlib.invalidate_caches()
    import prepline
    from prepline.processing.entrypoint import main as run

    print(f"prepline {prepline.__version__} from {os.path.dirname(prepline.__file__ or '')}", flush=True)
    return run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
