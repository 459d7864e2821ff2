"""How an instance's process gets the container's ``/opt/ml`` view.

``namespace`` (default on Linux): a private mount namespace per instance
(``unshare --mount``) with the instance's folder bind-mounted on ``/opt/ml``, so
scripts with hard-coded ``/opt/ml/...`` paths run unchanged and concurrent jobs
never see each other's files. ``docker``: ``docker run`` of the request's
ImageUri with the same folder mounted, where a Docker engine exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from prepline.errors import JobError

OPT_ML = Path("/opt/ml")


class Isolation(Protocol):
    name: str

    def check(self) -> None:
        """Raise JobError with the alternative when this isolation cannot work here."""
        ...

    def command(self, opt_ml: Path, argv: list[str], env: dict[str, str], container_name: str, image: str) -> list[str]:
        """The argv that runs ``argv`` seeing ``opt_ml`` as /opt/ml."""
        ...


class NamespaceIsolation:
    name = "namespace"

    def check(self) -> None:
        if not sys.platform.startswith("linux"):
            raise JobError(
                "the local runtime's private /opt/ml needs Linux mount namespaces",
                hint="run with --runtime docker on this system (needs a Docker engine)",
            ).with_exit(2)
        if shutil.which("unshare") is None or shutil.which("mount") is None:
            raise JobError("the local runtime needs the `unshare` and `mount` commands (util-linux)",
                           hint="install util-linux, or use --runtime docker").with_exit(2)
        if not OPT_ML.is_dir():
            try:
                OPT_ML.mkdir(parents=True)
            except OSError:
                raise JobError(
                    "the local runtime needs the folder /opt/ml as a mount point and cannot create it",
                    hint="create it once (sudo mkdir -p /opt/ml), or use --runtime docker",
                ).with_exit(2) from None
        probe = subprocess.run(
            [*self._unshare(), "--", "true"], capture_output=True, text=True, check=False
        )
        if probe.returncode != 0:
            raise JobError(
                f"cannot create a private mount namespace here: {probe.stderr.strip() or probe.returncode}",
                hint="run as root or where unprivileged user namespaces are enabled, or use --runtime docker",
            ).with_exit(2)

    def _unshare(self) -> list[str]:
        if os.geteuid() == 0:
            return ["unshare", "--mount", "--propagation", "private"]
        return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]

    def command(self, opt_ml: Path, argv: list[str], env: dict[str, str], container_name: str, image: str) -> list[str]:
        script = 'mount --bind "$1" /opt/ml && shift && exec "$@"'
        return [*self._unshare(), "--", "/bin/sh", "-c", script, "prepline-instance", str(opt_ml), *argv]


class DockerIsolation:
    name = "docker"

    def check(self) -> None:
        if shutil.which("docker") is None:
            raise JobError("--runtime docker needs the docker command", hint="install Docker, or use --runtime local").with_exit(2)
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, check=False)
        if info.returncode != 0:
            raise JobError(
                "--runtime docker needs a running Docker engine, and none answers",
                hint="start Docker, or use the default runtime (private mount namespaces, no Docker)",
            ).with_exit(2)

    def command(self, opt_ml: Path, argv: list[str], env: dict[str, str], container_name: str, image: str) -> list[str]:
        cmd = ["docker", "run", "--rm", "--name", container_name, "--init",
               "--volume", f"{opt_ml}:/opt/ml"]
        for key in sorted(env):
            cmd += ["--env", f"{key}={env[key]}"]
        if argv:
            cmd += ["--entrypoint", argv[0], image, *argv[1:]]
        else:
            cmd.append(image)
        return cmd


def isolation(name: str) -> Isolation:
    if name in ("local", "namespace"):
        return NamespaceIsolation()
    if name == "docker":
        return DockerIsolation()
    raise JobError(f"unknown runtime {name!r}", hint="use --runtime local (default) or --runtime docker").with_exit(2)
