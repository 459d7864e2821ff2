"""The stack's settings, read from CDK context (``-c key=value`` or ``cdk.json``) and validated.

Every setting has a default, so a bare ``python infra/app.py`` synthesizes. Values
given with ``-c`` arrive as strings; values from ``cdk.json`` may be JSON types —
both are accepted. A misspelt key (``-c evn=dev``) is an error with a suggestion,
not a silently ignored setting.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Processing job names are `<prefix>-<36-char uuid>` and at most 63 characters.
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
_S3_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_BRANCH_RE = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
_ENVIRONMENT_RE = re.compile(r"^[A-Za-z0-9 ._-]{1,255}$")
_SCHEDULE_RE = re.compile(r"^(cron\([^()]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_OIDC_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$"
)
_INSTANCE_RE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")

ENVIRONMENTS = ("dev", "prod")

DEFAULTS: dict[str, Any] = {
    "prefix": "prepline",
    "env": "prod",
    "stack_name": None,  # default: "<prefix>-<env>"
    "github_owner": None,
    "github_repo": None,  # "owner/name", or "name" together with github_owner
    "github_branch": "main",
    "github_environment": None,  # trust this GitHub environment instead of the branch
    "github_oidc_provider_arn": None,  # import this provider instead of creating one
    "schedule": None,  # e.g. "cron(0 3 * * ? *)" or "rate(1 day)"
    "schedule_timezone": "UTC",
    "notification_email": None,
    "kms": False,  # True: a customer managed KMS key encrypts the data buckets
    "raw_prefix": "input/",
    "processed_prefix": "output/",
    "code_prefix": "code/",
    "recipe_key": "code/recipe.yaml",
    "instance_type": "ml.t3.medium",
    "instance_count": 1,
    "volume_size_gb": 30,
    "max_runtime_seconds": 3600,
    "noncurrent_version_days": 90,
    "abort_multipart_days": 7,
    "processed_transition_days": None,  # move processed data to STANDARD_IA after N days
    "access_log_days": 365,
    # SageMaker Feature Store (feature_store.py): declared only when feature_group is set.
    "feature_group": None,
    "feature_group_record_id": "id",
    "feature_group_event_time": "event_time",
    "feature_group_features": None,  # "name:Type,..."; default: DEFAULT_FEATURES
}

# The employees recipe's transformed_data, plus the event time `prepline features ingest
# --add-event-time` stamps on each record.
DEFAULT_FEATURES = (
    "id:Integral,name:String,age:Fractional,salary:Fractional,hire_date:String,department:String,"
    "bonus:Fractional,address:String,phone:String,email:String,address_length:Integral,"
    "salary_category:String,age_group:String,event_time:String"
)
_FEATURE_NAME_RE = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
_FEATURE_TYPES = ("Integral", "Fractional", "String")


class ConfigError(ValueError):
    """A context value is missing, malformed or inconsistent; the message says which and the fix."""


@dataclass(frozen=True)
class GitHubTrust:
    """Who may assume the CI role: one repository, on one branch or one environment."""

    repository: str  # "owner/name"
    branch: str
    environment: str | None
    oidc_provider_arn: str | None

    @property
    def subject(self) -> str:
        """The exact `sub` claim GitHub puts in the token for that branch or environment."""
        if self.environment:
            return f"repo:{self.repository}:environment:{self.environment}"
        return f"repo:{self.repository}:ref:refs/heads/{self.branch}"


@dataclass(frozen=True)
class FeatureGroupSpec:
    """A SageMaker Feature Store feature group: its name, key features and (name, type) features."""

    name: str
    record_id: str
    event_time: str
    features: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class InfraConfig:
    prefix: str
    env: str
    stack_name: str
    github: GitHubTrust | None
    schedule: str | None
    schedule_timezone: str
    notification_email: str | None
    kms: bool
    raw_prefix: str
    processed_prefix: str
    code_prefix: str
    recipe_key: str
    instance_type: str
    instance_count: int
    volume_size_gb: int
    max_runtime_seconds: int
    noncurrent_version_days: int
    abort_multipart_days: int
    processed_transition_days: int | None
    access_log_days: int
    feature_group: FeatureGroupSpec | None = None

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def job_name_prefix(self) -> str:
        """Every processing job of this project is named `<prefix>-...`."""
        return f"{self.prefix}-"

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> InfraConfig:
        """Validate ``context`` (all of the app's context; unrelated CDK keys are ignored)."""
        _reject_misspelt_keys(context)
        raw = {key: context.get(key, default) for key, default in DEFAULTS.items()}
        values = {key: (None if value == "" else value) for key, value in raw.items()}

        prefix = _match(
            "prefix", values["prefix"], _PREFIX_RE, "2-20 lowercase letters, digits or '-'"
        )
        env = str(values["env"])
        if env not in ENVIRONMENTS:
            raise ConfigError(
                f"context 'env' must be one of {', '.join(ENVIRONMENTS)}, got {env!r}. Fix: -c env=dev or -c env=prod."
            )
        stack_name = str(values["stack_name"] or f"{prefix}-{env}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", stack_name):
            raise ConfigError(
                f"context 'stack_name' {stack_name!r} is not a valid CloudFormation stack name (letters, digits, '-')."
            )

        prefixes = {
            key: _s3_prefix(key, values[key])
            for key in ("raw_prefix", "processed_prefix", "code_prefix")
        }
        recipe_key = str(values["recipe_key"]).lstrip("/")
        in_code = recipe_key.startswith(prefixes["code_prefix"])
        if not in_code or not recipe_key.endswith((".yaml", ".yml")):
            raise ConfigError(
                f"context 'recipe_key' {recipe_key!r} must name a .yaml file under the code prefix "
                f"{prefixes['code_prefix']!r} (the processing role reads only that prefix). "
                f"Fix: -c recipe_key={prefixes['code_prefix']}recipe.yaml."
            )

        schedule = values["schedule"]
        if schedule is not None and not _SCHEDULE_RE.match(str(schedule)):
            raise ConfigError(
                f"context 'schedule' {schedule!r} is not an EventBridge Scheduler expression. "
                'Fix: -c schedule="cron(0 3 * * ? *)" or -c schedule="rate(1 day)".'
            )
        email = values["notification_email"]
        if email is not None and not _EMAIL_RE.match(str(email)):
            raise ConfigError(f"context 'notification_email' {email!r} is not an e-mail address.")

        transition = _int(
            "processed_transition_days",
            values["processed_transition_days"],
            minimum=30,
            optional=True,
        )
        return cls(
            prefix=prefix,
            env=env,
            stack_name=stack_name,
            github=_github(values),
            schedule=None if schedule is None else str(schedule),
            schedule_timezone=_timezone(values["schedule_timezone"]),
            notification_email=None if email is None else str(email),
            kms=_bool("kms", values["kms"]),
            raw_prefix=prefixes["raw_prefix"],
            processed_prefix=prefixes["processed_prefix"],
            code_prefix=prefixes["code_prefix"],
            recipe_key=recipe_key,
            instance_type=_match(
                "instance_type",
                values["instance_type"],
                _INSTANCE_RE,
                "a SageMaker instance type such as ml.m5.xlarge",
            ),
            instance_count=_int("instance_count", values["instance_count"], minimum=1),
            volume_size_gb=_int("volume_size_gb", values["volume_size_gb"], minimum=1),
            max_runtime_seconds=_int(
                "max_runtime_seconds", values["max_runtime_seconds"], minimum=60
            ),
            noncurrent_version_days=_int(
                "noncurrent_version_days", values["noncurrent_version_days"], minimum=1
            ),
            abort_multipart_days=_int(
                "abort_multipart_days", values["abort_multipart_days"], minimum=1
            ),
            processed_transition_days=transition,
            access_log_days=_int("access_log_days", values["access_log_days"], minimum=1),
            feature_group=_feature_group(values),
        )


def _github(values: Mapping[str, Any]) -> GitHubTrust | None:
    repo, owner = values["github_repo"], values["github_owner"]
    if repo is None:
        if owner is not None:
            raise ConfigError(
                "context 'github_owner' is set but 'github_repo' is not. Fix: -c github_repo=OWNER/NAME."
            )
        return None  # no CI role: nobody outside the account is trusted by default
    repository = f"{owner}/{repo}" if owner is not None and "/" not in str(repo) else str(repo)
    _match("github_repo", repository, _REPO_RE, "OWNER/NAME, e.g. -c github_repo=acme/prepline")
    if "*" in str(values["github_branch"]):
        raise ConfigError(
            "context 'github_branch' must be one exact branch; a wildcard would trust every matching branch."
        )
    branch = _match(
        "github_branch", values["github_branch"], _BRANCH_RE, "a branch name such as main"
    )
    environment = values["github_environment"]
    if environment is not None:
        environment = _match(
            "github_environment", environment, _ENVIRONMENT_RE, "a GitHub environment name"
        )
    provider = values["github_oidc_provider_arn"]
    if provider is not None:
        provider = _match(
            "github_oidc_provider_arn",
            provider,
            _OIDC_ARN_RE,
            "arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com",
        )
    return GitHubTrust(
        repository=repository, branch=branch, environment=environment, oidc_provider_arn=provider
    )


def _feature_group(values: Mapping[str, Any]) -> FeatureGroupSpec | None:
    name = values["feature_group"]
    if name is None:
        return None
    name = _match("feature_group", name, _FEATURE_NAME_RE, "1-64 letters, digits, '-' or '_'")
    features: list[tuple[str, str]] = []
    for item in str(values["feature_group_features"] or DEFAULT_FEATURES).split(","):
        feature, _, kind = (part.strip() for part in item.partition(":"))
        if not _FEATURE_NAME_RE.match(feature) or kind not in _FEATURE_TYPES:
            raise ConfigError(
                f"context 'feature_group_features' has {item.strip()!r}; expected name:Type with Type one "
                f"of {', '.join(_FEATURE_TYPES)}, e.g. -c feature_group_features=id:Integral,event_time:String."
            )
        if feature.lower() in ("is_deleted", "write_time", "api_invocation_time"):
            raise ConfigError(f"context 'feature_group_features': {feature!r} is reserved by Feature Store.")
        features.append((feature, kind))
    types = dict(features)
    if len(types) != len(features):
        raise ConfigError("context 'feature_group_features' names a feature twice.")
    record_id = str(values["feature_group_record_id"])
    event_time = str(values["feature_group_event_time"])
    for key, feature in (("feature_group_record_id", record_id), ("feature_group_event_time", event_time)):
        if feature not in types:
            raise ConfigError(
                f"context {key!r} is {feature!r}, which is not among the features ({', '.join(types)})."
            )
    if types[event_time] == "Integral":
        raise ConfigError(
            f"context 'feature_group_event_time': {event_time!r} must be String (ISO-8601) or "
            "Fractional (epoch seconds), not Integral."
        )
    return FeatureGroupSpec(name, record_id, event_time, tuple(features))


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        if not available_timezones():  # no time zone database here: leave it to Scheduler
            return str(value)
        raise ConfigError(
            f"context 'schedule_timezone' is {value!r}; expected an IANA time zone such as "
            "UTC or Europe/Paris."
        ) from None
    return str(value)


def _reject_misspelt_keys(context: Mapping[str, Any]) -> None:
    for key in context:
        # CDK's own keys ("@aws-cdk/...", "aws:cdk:...", lookups) carry ':' or '@'.
        if key in DEFAULTS or ":" in key or "@" in key:
            continue
        close = difflib.get_close_matches(key, list(DEFAULTS), n=1, cutoff=0.6)
        if close:
            raise ConfigError(f"unknown context key {key!r}. Did you mean {close[0]!r}?")


def _match(key: str, value: Any, pattern: re.Pattern[str], expected: str) -> str:
    text = str(value)
    if not pattern.match(text):
        raise ConfigError(f"context {key!r} is {text!r}; expected {expected}.")
    return text


def _s3_prefix(key: str, value: Any) -> str:
    text = str(value).strip("/") + "/"
    if not _S3_PREFIX_RE.match(text):
        raise ConfigError(f"context {key!r} is {value!r}; expected a key prefix such as 'input/'.")
    return text


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigError(f"context {key!r} is {value!r}; expected true or false.")


def _int(key: str, value: Any, *, minimum: int, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"context {key!r} is {value!r}; expected a whole number.") from None
    if number < minimum:
        raise ConfigError(f"context {key!r} is {number}; it must be at least {minimum}.")
    return number
