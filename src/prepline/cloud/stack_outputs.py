"""The deployed stack's outputs (buckets, roles, topic, image), read from CloudFormation.

``infra/`` deploys a stack whose CfnOutput ids are listed in ``OUTPUT_KEYS``; reading
them here means ``prepline job create`` and CI never need a copy-pasted ARN. The
client comes from ``boto3.Session()`` unless the caller passes one, so the standard
settings apply: ``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from prepline.errors import PreplineError

DEFAULT_STACK = "prepline-prod"  # "<prefix>-<env>" with the CDK app's defaults

# CfnOutput id in infra/prepline_infra/stack.py -> field of StackOutputs.
OUTPUT_KEYS: dict[str, str] = {
    "RawBucketName": "raw_bucket",
    "ProcessedBucketName": "processed_bucket",
    "ArtifactsBucketName": "artifacts_bucket",
    "LogsBucketName": "logs_bucket",
    "ProcessingRoleArn": "processing_role_arn",
    "CiRoleArn": "ci_role_arn",
    "NotificationTopicArn": "topic_arn",
    "ImageUri": "image_uri",
    "RawInputUri": "raw_input_uri",
    "ProcessedOutputUri": "processed_output_uri",
    "CodeUri": "code_uri",
    "JobNamePrefix": "job_name_prefix",
    "StateMachineArn": "state_machine_arn",
}
# The CI role exists only with -c github_repo=..., the state machine only with -c schedule=...;
# everything else every deployed stack has.
OPTIONAL_KEYS = frozenset({"CiRoleArn", "StateMachineArn"})


@dataclass(frozen=True)
class StackOutputs:
    stack_name: str
    raw_bucket: str
    processed_bucket: str
    artifacts_bucket: str
    logs_bucket: str
    processing_role_arn: str
    topic_arn: str
    image_uri: str
    raw_input_uri: str
    processed_output_uri: str
    code_uri: str
    job_name_prefix: str
    ci_role_arn: str | None = None
    state_machine_arn: str | None = None
    region: str | None = None

    @classmethod
    def from_cloudformation(
        cls,
        stack_name: str,
        outputs: Iterable[Mapping[str, Any]],
        *,
        region: str | None = None,
        status: str | None = None,
    ) -> StackOutputs:
        """Map DescribeStacks' ``Outputs`` (``OutputKey``/``OutputValue`` pairs); unknown keys are ignored."""
        values = {
            OUTPUT_KEYS[item["OutputKey"]]: str(item.get("OutputValue", ""))
            for item in outputs
            if item.get("OutputKey") in OUTPUT_KEYS
        }
        missing = sorted(
            key
            for key, field in OUTPUT_KEYS.items()
            if key not in OPTIONAL_KEYS and not values.get(field)
        )
        if missing:
            state = f" (status {status})" if status else ""
            raise PreplineError(
                f"stack {stack_name!r}{state} lacks the output(s) {', '.join(missing)}; "
                "it was not deployed from prepline's infra/ app, or not completely",
                hint="deploy it with `cd infra && cdk deploy` (docs/infra.md), or name the right stack with --stack",
            )
        return cls(stack_name=stack_name, region=region, **values)

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the outputs as JSON, atomically (a reader never sees half a file)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> StackOutputs:
        """Load a file written by :meth:`write`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PreplineError(
                f"cannot read stack outputs from {path}: {exc}",
                hint="write it again with `prepline infra outputs --stack NAME --write FILE`",
            ) from exc
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def read_stack_outputs(
    stack_name: str = DEFAULT_STACK,
    *,
    client: Any = None,
    session: Any = None,
    region: str | None = None,
    profile: str | None = None,
) -> StackOutputs:
    """Describe ``stack_name`` and return its outputs; errors name the stack and the fix.

    ``client`` (a CloudFormation client) wins over ``session``, which wins over a new
    ``boto3.Session(profile_name=profile, region_name=region)``.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if client is None:
        client = _client(session, region, profile)
    where = f"in {client.meta.region_name}" if client.meta.region_name else ""
    try:
        response = client.describe_stacks(StackName=stack_name)
    except (BotoCoreError, ClientError) as exc:
        raise _describe_error(exc, stack_name, where) from exc
    stacks = response.get("Stacks") or []
    if not stacks:
        raise _not_found(stack_name, where)
    stack = stacks[0]
    return StackOutputs.from_cloudformation(
        stack_name,
        stack.get("Outputs") or [],
        region=client.meta.region_name,
        status=stack.get("StackStatus"),
    )


def _client(session: Any, region: str | None, profile: str | None) -> Any:
    import boto3
    from botocore.exceptions import NoRegionError, ProfileNotFound

    try:
        session = session or boto3.Session(profile_name=profile, region_name=region)
        return session.client("cloudformation")
    except ProfileNotFound as exc:
        raise PreplineError(
            f"AWS profile {profile or os.environ.get('AWS_PROFILE')!r} does not exist",
            hint="`aws configure list-profiles` shows the profiles; pass --profile or set AWS_PROFILE",
        ) from exc
    except NoRegionError as exc:
        raise PreplineError(
            "no AWS region configured for reading the stack outputs",
            hint="pass --region, or set AWS_REGION (the region the stack was deployed to)",
        ) from exc


def _not_found(stack_name: str, where: str) -> PreplineError:
    return PreplineError(
        f"CloudFormation stack {stack_name!r} does not exist {where}".rstrip(),
        hint="deploy it with `cd infra && cdk deploy` (docs/infra.md), or pass --stack and --region of the deployed stack",
    )


def _describe_error(exc: Exception, stack_name: str, where: str) -> PreplineError:
    from prepline.cloud.aws_errors import translate

    error = (getattr(exc, "response", None) or {}).get("Error", {})
    if error.get("Code") == "ValidationError" and "does not exist" in str(error.get("Message", "")):
        return _not_found(stack_name, where)
    return translate(exc, f"read the outputs of stack {stack_name!r}")
