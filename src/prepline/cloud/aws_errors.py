"""AWS errors as messages that say what to do.

botocore's errors name an error code; people need the action, the resource, and
the fix. Throttling and connection errors are marked transient (botocore's
standard retry mode has already retried them with backoff when they reach us).
"""

from __future__ import annotations

import re
from typing import Any

from prepline.errors import PreplineError

_NOT_AUTHORIZED = re.compile(
    r"User: (?P<who>\S+) is not authorized to perform: (?P<action>[\w:*-]+)(?: on resource: (?P<resource>\S+))?"
)
THROTTLING = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
}
ACCESS = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "AuthorizationError"}


class AwsError(PreplineError):
    """An AWS call failed; ``code`` is AWS's error code."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        hint: str | None = None,
        transient: bool = False,
        exit_code: int = 2,
    ):
        super().__init__(message, hint=hint, transient=transient)
        self.code = code
        self.exit_code = exit_code


def translate(exc: Exception, action: str) -> PreplineError:
    """``action`` says what prepline was doing, e.g. "create processing job prepline-x"."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoAuthTokenError"):
        return AwsError(
            f"cannot {action}: no AWS credentials were found",
            code="NoCredentials",
            hint="configure a profile (`aws configure --profile NAME`, then AWS_PROFILE=NAME), or set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; in GitHub Actions use OIDC with "
            "aws-actions/configure-aws-credentials and role-to-assume (see the README)",
        )
    if name in (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    ):
        return AwsError(
            f"cannot {action}: the AWS endpoint did not answer ({exc})",
            code=name,
            transient=True,
            hint="check the network, AWS_REGION and AWS_ENDPOINT_URL, then try again",
        )
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code = str(error.get("Code") or name)
    message = str(error.get("Message") or exc)
    if code in ACCESS:
        return _access_denied(action, message, code)
    if code in THROTTLING:
        attempts = response.get("ResponseMetadata", {}).get("RetryAttempts")
        tried = f" after {attempts + 1} attempts with backoff" if isinstance(attempts, int) else ""
        return AwsError(
            f"cannot {action}: AWS is throttling requests ({code}){tried}",
            code=code,
            transient=True,
            hint="try again in a minute; if it persists, fewer concurrent calls (or a quota increase) help",
        )
    if code == "ResourceLimitExceeded":
        return AwsError(
            f"cannot {action}: an account quota is exhausted: {message}",
            code=code,
            hint="raise the quota in the Service Quotas console (SageMaker: '<instance type> for processing job usage'), "
            "use a smaller or different instance type, or fewer instances",
        )
    if code == "ValidationException":
        field = re.search(r"at '([^']+)'", message) or re.search(r"field '?([A-Za-z0-9.\[\]]+)", message)
        where = f" (field {field.group(1)})" if field else ""
        return AwsError(
            f"cannot {action}: SageMaker rejected the request{where}: {message}",
            code=code,
            hint="fix that field; `prepline job validate --cloud JOB.json` checks a request offline",
        )
    if (
        code in ("ResourceNotFound", "ResourceNotFoundException", "ValidationError")
        and "not found" in message.lower()
    ):
        return AwsError(
            f"cannot {action}: {message}",
            code=code,
            hint="check the name and the region (AWS_REGION); `prepline job list --backend sagemaker` lists jobs",
        )
    if code == "ResourceInUse":
        return AwsError(
            f"cannot {action}: {message}",
            code=code,
            hint="job names are unique per account and region: choose another ProcessingJobName",
        )
    return AwsError(f"cannot {action}: {code}: {message}", code=code)


def _access_denied(action: str, message: str, code: str) -> AwsError:
    match = _NOT_AUTHORIZED.search(message)
    denied = match.group("action") if match else None
    resource = match.group("resource") if match else None
    who = match.group("who") if match else "the caller"
    detail = (
        f"{who} may not call {denied}" + (f" on {resource}" if resource else "")
        if denied
        else message
    )
    if denied == "iam:PassRole":
        hint = (
            f"give {who} iam:PassRole on {resource or 'the processing role'} with the condition "
            "iam:PassedToService = sagemaker.amazonaws.com (the CDK app's CI role has it)"
        )
    elif denied == "sagemaker:AddTags":
        hint = (
            f"creating a job with Tags also needs sagemaker:AddTags: allow it for {who} on "
            f"{resource or 'arn:aws:sagemaker:<region>:<account>:processing-job/<prefix>-*'}"
        )
    elif denied:
        hint = (
            f"allow {denied} for {who}"
            + (f" on {resource}" if resource else "")
            + " in its IAM policy"
        )
    else:
        hint = "check the IAM policy of the identity in use (`aws sts get-caller-identity` shows which)"
    return AwsError(f"cannot {action}: access denied: {detail}", code=code, hint=hint)
