"""The processing image: the repository's Dockerfile, built and pushed by ``cdk deploy``.

Synth only stages the build context into ``cdk.out`` (no Docker needed); the
exclusions below keep that copy to the files the Dockerfile uses, so synth stays
fast and the image hash changes only when the image's inputs change. The
repository's ``.dockerignore`` is applied too.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from constructs import Construct

from prepline_infra.config import ConfigError

# Never part of the image, and some are large (.venv, cdk.out).
EXCLUDE = [
    ".git",
    ".github",
    ".venv",
    "venv",
    "**/.venv",
    "node_modules",
    "cdk.out",
    "infra",
    "tests",
    "benchmarks",
    "docs",
    "build",
    "dist",
    "out",
    "prepline-demo",
    "**/__pycache__",
    "**/*.pyc",
    "**/*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".benchmarks",
    ".ci",
]


class ProcessingImage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, context_dir: Path) -> None:
        super().__init__(scope, construct_id)
        dockerfile = context_dir / "Dockerfile"
        if not dockerfile.is_file():
            raise ConfigError(
                f"the processing image is built from {dockerfile}, which does not exist. "
                "Fix: restore the repository's Dockerfile (it installs prepline with `pip install .`)."
            )
        self.asset = ecr_assets.DockerImageAsset(
            self,
            "Asset",
            directory=str(context_dir),
            file="Dockerfile",
            exclude=EXCLUDE,
            # SageMaker Processing instances (ml.m5, ml.t3, ...) are x86_64.
            platform=ecr_assets.Platform.LINUX_AMD64,
            display_name="prepline processing image",
        )

    @property
    def image_uri(self) -> str:
        """The image's URI, tagged with its content hash (known once deployed)."""
        return self.asset.image_uri

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant:
        """Pull rights on the asset repository (and ecr:GetAuthorizationToken, account-wide by design)."""
        return self.asset.repository.grant_pull(grantee)
