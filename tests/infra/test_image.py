"""The processing image: the repository's Dockerfile, staged at synth without the heavy folders."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.infra


def docker_images(synth, variant: str = "prod") -> dict:
    stack = synth.configs[variant].stack_name
    return json.loads((synth.outdir / f"{stack}.assets.json").read_text())["dockerImages"]


def test_one_image_asset_built_from_the_repository_dockerfile_for_x86(synth):
    (image,) = docker_images(synth).values()
    source = image["source"]
    assert source.get("dockerFile", "Dockerfile") == "Dockerfile"
    assert source["platform"] == "linux/amd64"
    staged = synth.outdir / source["directory"]
    assert (staged / "Dockerfile").is_file()
    assert (staged / "pyproject.toml").is_file()
    assert (staged / "src" / "prepline" / "__init__.py").is_file()


def test_staging_leaves_out_virtualenvs_tests_infra_and_git(synth):
    (image,) = docker_images(synth).values()
    staged = synth.outdir / image["source"]["directory"]
    for name in (".venv", ".git", "tests", "infra", "cdk.out", "benchmarks"):
        assert not (staged / name).exists(), name
    assert not list(staged.rglob("__pycache__"))
    size = sum(p.stat().st_size for p in staged.rglob("*") if p.is_file())
    assert size < 20_000_000, f"the staged build context is {size / 1e6:.1f} MB"


def test_both_stacks_use_the_same_image(synth):
    assert docker_images(synth, "prod").keys() == docker_images(synth, "dev").keys()
