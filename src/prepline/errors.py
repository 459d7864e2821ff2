"""Every error prepline raises on purpose.

::

    PreplineError                 exit code 2 unless stated; message = what, where, fix
    ├── RecipeError               the recipe file is unreadable or invalid
    ├── InputError                the input data cannot be read as the recipe says
    │   └── ColumnNotFoundError   a column the recipe needs is absent
    ├── DataError                 values in the data break the recipe (bad JSON under `fail`, ...)
    ├── OutputError               outputs could not be written or published
    ├── StorageError              a URI cannot be read or written (local or S3)
    ├── EngineError               an engine cannot run a step, or is not installed
    ├── JobRequestError           a CreateProcessingJob request is invalid
    ├── JobError                  a processing job failed, was stopped, or is unknown  (exit 1)
    └── QualityError              an `error` rule failed or the data drifted           (exit 1)

Errors carry ``transient``: True when retrying the same call may succeed
(throttling, a reset connection); callers retry on the property, not on the type.
"""

from __future__ import annotations


class PreplineError(Exception):
    """Base class: ``str(err)`` is a one-paragraph message a person can act on."""

    exit_code: int = 2
    transient: bool = False

    def __init__(self, message: str, *, hint: str | None = None, transient: bool | None = None):
        self.message = message
        self.hint = hint
        if transient is not None:
            self.transient = transient
        super().__init__(self.__str__())

    def with_exit(self, code: int) -> PreplineError:
        """The same error with another exit code (e.g. 2 for "no such job" though JobError is 1)."""
        self.exit_code = code
        return self

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nFix: {self.hint}"
        return self.message


class RecipeError(PreplineError):
    """The recipe file is unreadable or does not validate."""


class InputError(PreplineError):
    """The input data cannot be read the way the recipe declares it."""


class ColumnNotFoundError(InputError):
    """A column that the recipe needs is not in the data."""


class DataError(PreplineError):
    """Values in the data break the recipe (for example invalid JSON under ``on_invalid: fail``)."""


class OutputError(PreplineError):
    """Outputs could not be written or published."""


class StorageError(PreplineError):
    """A local path or S3 object cannot be read or written."""


class EngineError(PreplineError):
    """An engine is missing, or cannot run a step of the plan."""


class JobRequestError(PreplineError):
    """A CreateProcessingJob request is invalid; ``problems`` lists every problem found."""

    def __init__(self, message: str, problems: list[str] | None = None, *, hint: str | None = None):
        self.problems = list(problems or [])
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message, hint=hint)


class JobError(PreplineError):
    """A processing job ended Failed or Stopped, or does not exist."""

    exit_code = 1


class QualityError(PreplineError):
    """An `error`-severity rule failed, or the data drifted beyond its threshold."""

    exit_code = 1


def closest(name: str, candidates: list[str]) -> str | None:
    """The candidate most similar to ``name`` (for "did you mean" hints), or None."""
    import difflib

    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in candidates}
    return lowered.get(name.lower())
