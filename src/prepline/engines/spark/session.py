"""The one SparkSession of this process, created on first use and configured for prepline's semantics.

The master: the one given to the engine (``prepline run --spark-master``) > ``PREPLINE_SPARK_MASTER``
> the one ``spark-submit`` was given, when prepline runs under it (SageMaker's ``smspark-submit``
gives ``yarn``) > ``local[*]``. A URL that is not one of Spark's master forms is refused before a
JVM starts. A session that already exists in the process (a test's, a notebook's) is reused with
its master, and asking for another master then is an error: a process has one SparkContext.

The SQL settings below are applied to the session at every call, because the engine's results
depend on them:

* ``spark.sql.ansi.enabled=false``: Spark 4 turns ANSI mode on by default, which makes a cast of
  ``"x7"`` to a number or a division by zero raise. prepline decides row by row what a value that
  does not convert means (fail, null or reject), so casts must give null as Polars' non-strict ones do.
* ``spark.sql.session.timeZone=UTC``: dates and times are read and written without a zone shift.
* ``spark.sql.caseSensitive=true``: ``Id`` and ``id`` are two columns, as in Polars.
* ``spark.sql.legacy.timeParserPolicy=CORRECTED``: an impossible date (2020-02-30) is null, not an error.
* ``spark.sql.variant.allowDuplicateKeys=true``: a JSON object with a repeated key keeps the last
  value, as Polars (serde_json) does, instead of being invalid.
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING

from prepline.errors import EngineError
from prepline.settings import SPARK_MASTER_VAR as MASTER_VAR

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
APP_NAME = "prepline"
SHUFFLE_PARTITIONS = 4

# Fixed when the JVM starts: they apply only to a session prepline creates itself.
STATIC_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # outputs are moved into place by prepline: no _SUCCESS marker, no second rename of every file
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
}

# On one machine only: a cluster's driver must stay reachable by name, and its shuffles want more partitions
LOCAL_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",  # local mode must not depend on the host name resolving
    "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC -Dfile.encoding=UTF-8",
}

# Runtime SQL settings the engine's semantics depend on: (re)applied every time the session is fetched.
SQL_CONF: dict[str, str] = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.caseSensitive": "true",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.variant.allowDuplicateKeys": "true",
}

# Expected, so not worth a warning: an aggregate output is ranked in one partition (it is written as one file anyway)
QUIET_LOGGERS = ("org.apache.spark.sql.execution.window.WindowExec",)

# The master URLs Spark 4 accepts (it dropped Mesos): local[N] and local[N,F] need N >= 1.
MASTER_FORMS = re.compile(
    r"local(\[(\*|[1-9]\d*)(\s*,\s*\d+)?\])?"
    r"|local-cluster\[\s*[1-9]\d*\s*,\s*[1-9]\d*\s*,\s*[1-9]\d*\s*\]"
    r"|spark://[^\s/,:]+:\d+(,[^\s/,:]+:\d+)*"
    r"|yarn"
    r"|k8s://\S+"
)
MASTER_HINT = ("use local[*] (every core of this machine), local[N] (N cores), spark://HOST:PORT (a standalone "
               "cluster), yarn, or k8s://https://HOST:PORT")
# spark-submit starts the JVM first and hands its gateway to the Python driver in this variable
SUBMITTED_VAR = "PYSPARK_GATEWAY_PORT"
CONNECT_TIMEOUT_S = 5.0

_lock = threading.Lock()


def master_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get(MASTER_VAR) or DEFAULT_MASTER


def resolve_master(explicit: str | None = None) -> tuple[str | None, str]:
    """The master to create the session with and where it comes from; None: the one spark-submit was given."""
    if explicit:
        return explicit, "--spark-master"
    if os.environ.get(MASTER_VAR):
        return os.environ[MASTER_VAR], MASTER_VAR
    if os.environ.get(SUBMITTED_VAR):
        return None, "spark-submit"
    return DEFAULT_MASTER, "the default"


def check_master(url: str, origin: str = "--spark-master") -> str:
    """Refuse a URL that is none of Spark's master forms (before a JVM is started for it)."""
    if not MASTER_FORMS.fullmatch(url.strip()):
        raise EngineError(f"{url!r} (from {origin}) is not a Spark master URL", hint=MASTER_HINT)
    return url.strip()


def get_session(master: str | None = None) -> SparkSession:
    """The process's SparkSession (created once), with prepline's SQL settings applied."""
    from pyspark.sql import SparkSession

    with _lock:
        session = SparkSession.getActiveSession()
        if session is None:
            session = _create(*resolve_master(master))
        elif master and session.sparkContext.master != check_master(master):
            raise EngineError(
                f"this process already runs a Spark session on {session.sparkContext.master}; it cannot switch "
                f"to --spark-master {master} (a process has one SparkContext)",
                hint="run prepline in a new process to use another master, or leave --spark-master out",
            )
        for key, value in SQL_CONF.items():
            session.conf.set(key, value)
        return session


def _create(url: str | None, origin: str) -> SparkSession:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(APP_NAME)
    if url is not None:
        builder = builder.master(check_master(url, origin))
        if url.startswith("spark://"):
            _reachable(url, origin)
    local = url is not None and url.startswith("local")
    for key, value in (STATIC_CONF | (LOCAL_CONF if local else {})).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start, or the master refused us: nothing ran yet
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        where = f"master {url} (from {origin})" if url else "the master spark-submit was given"
        raise EngineError(
            f"Spark could not start on {where}: {lines[0] if lines else type(exc).__name__}",
            hint="check the master URL and that the cluster is reachable; Spark also needs Java 17 or later "
                 "(java on PATH or JAVA_HOME)",
        ) from exc
    session.sparkContext.setLogLevel("WARN")
    _quiet(session, QUIET_LOGGERS)
    return session


def _reachable(url: str, origin: str) -> None:
    """A standalone master that does not answer is reported now: Spark itself retries for a minute, then hangs."""
    import socket

    problems = []
    for address in url[len("spark://"):].split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
                return
        except OSError as exc:
            problems.append(f"{address}: {exc.strerror or exc}")
    raise EngineError(f"the Spark master {url} (from {origin}) does not answer ({'; '.join(problems)})",
                      hint="start the master (sbin/start-master.sh) or correct the host and port; "
                           "its URL is shown at the top of the master's web UI")


def _quiet(session: SparkSession, loggers: tuple[str, ...]) -> None:
    try:
        jvm = session.sparkContext._jvm
        assert jvm is not None
        level = jvm.org.apache.logging.log4j.Level.ERROR
        for name in loggers:
            jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, level)
    except Exception:  # a cluster's logging set-up is its own business
        pass


__all__ = ["DEFAULT_MASTER", "LOCAL_CONF", "MASTER_VAR", "SHUFFLE_PARTITIONS", "SQL_CONF", "STATIC_CONF", "check_master",
           "get_session", "master_url", "resolve_master"]
