"""Run a CreateProcessingJob request on this machine, as SageMaker would run it.

Per job: validate, record it in the job store, stage inputs into one folder per
instance (``algo-1`` … ``algo-N``), write ``/opt/ml/config/*.json``, start every
instance at once, enforce MaxRuntimeInSeconds and stop requests (SIGTERM, a grace
period, SIGKILL), then upload the outputs and record how the job ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prepline import settings
from prepline.errors import JobError, JobRequestError, PreplineError
from prepline.processing import staging
from prepline.processing.describe import arn_for, config_document
from prepline.processing.local.isolation import Isolation, isolation
from prepline.processing.request import PROCESSING_ROOT, instance_count, validate_request
from prepline.processing.store import JobStore

EXIT_MESSAGE_BYTES = 1024
STDERR_TAIL_LINES = 20


@dataclass
class Instance:
    host: str
    root: Path  # holds opt/ml
    log: Path
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))
    pumps: list[threading.Thread] = field(default_factory=list)

    @property
    def opt_ml(self) -> Path:
        return self.root / "opt" / "ml"


class LocalRuntime:
    def __init__(self, store: JobStore | None = None, runtime: str = "local", *, keep: bool = False,
                 stop_grace: float | None = None, progress: bool = True):
        self.store = store or JobStore(settings.home())
        self.isolation: Isolation = isolation(runtime)
        self.keep = keep
        self.grace = settings.stop_grace_seconds(stop_grace)
        self.progress = progress
        self._stop_signal: int | None = None

    # --- the whole job --------------------------------------------------------------------------

    def run(self, request: dict[str, Any], source: str = "request") -> dict[str, Any]:
        validate_request(request, local=True, source=source)
        refuse_unsupported(request)
        self.isolation.check()
        name = request["ProcessingJobName"]
        workdir = self.store.create(request, arn_for(request))
        (workdir / "request.json").write_text(json.dumps(request, indent=2), encoding="utf-8")
        previous = self._install_signal_handlers()
        try:
            status, reason, message = self._run(request, workdir)
        except PreplineError as exc:
            status, reason, message = "Failed", f"ClientError: {exc}", None
        except BaseException as exc:  # never leave the job InProgress
            self.store.finish(name, "Failed", failure_reason=f"InternalServerError: {type(exc).__name__}: {exc}")
            raise
        finally:
            self._restore_signal_handlers(previous)
        self.store.finish(name, status, failure_reason=reason, exit_message=message)
        if not self.keep:
            shutil.rmtree(workdir / "instances", ignore_errors=True)
            shutil.rmtree(workdir / "cache", ignore_errors=True)
        return self.store.get(name)

    def _run(self, request: dict[str, Any], workdir: Path) -> tuple[str, str | None, str | None]:
        name = request["ProcessingJobName"]
        started = time.monotonic()
        max_runtime = float((request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400))
        count = instance_count(request)
        hosts = [f"algo-{i + 1}" for i in range(count)]
        (workdir / "logs").mkdir(exist_ok=True)
        instances = [Instance(h, workdir / "instances" / h, workdir / "logs" / f"{h}.log") for h in hosts]
        self._stage_inputs(request, workdir, instances)
        for inst in instances:
            self._prepare(request, inst, hosts)
        stopped_by = self._stopped_before_start(name)
        if stopped_by is None:
            self._start(request, instances)
            stopped_by = self._watch(name, instances, started, max_runtime)
        if stopped_by is not None:
            self._terminate(instances)
            reason = (
                f"MaxRuntimeInSeconds ({max_runtime:g} s) exceeded; the job was stopped"
                if stopped_by == "timeout"
                else "Stopped by request" if stopped_by == "request" else f"Runner received signal {stopped_by}"
            )
            return "Stopped", reason, self._exit_message(instances)
        failed = [i for i in instances if i.exit_code != 0]
        if failed:
            first = failed[0]
            tail = "\n".join(first.stderr_tail)
            reason = f"AlgorithmError: instance {first.host} {_ended(first.exit_code)}"
            if len(failed) > 1:
                reason += f" ({len(failed)} of {len(instances)} instances failed)"
            if tail:
                reason += f"; last lines of stderr:\n{tail}"
            return "Failed", reason[:1024], self._exit_message(failed)
        self._upload_outputs(request, instances)
        return "Completed", None, self._exit_message(instances)

    # --- staging ----------------------------------------------------------------------------------

    def _stage_inputs(self, request: dict[str, Any], workdir: Path, instances: list[Instance]) -> None:
        for item in request.get("ProcessingInputs") or []:
            s3 = item["S3Input"]
            objects = staging.list_objects(s3)
            cache = workdir / "cache" / item["InputName"]
            with self._bar(f"download {item['InputName']}", sum(o.size for o in objects)) as advance:
                staging.download(objects, cache, progress=advance)
            sharded = s3.get("S3DataDistributionType", "FullyReplicated") == "ShardedByS3Key"
            # An object only one instance gets is linked from the job's private cache; replicated
            # objects are copied, so that an instance writing to its input changes no other's
            # (on SageMaker each instance downloads its own copy).
            private = sharded or len(instances) == 1
            for index, inst in enumerate(instances):
                mine = staging.shard(objects, index, len(instances)) if sharded else objects
                target = inst.opt_ml / _below_opt_ml(s3["LocalPath"])
                target.mkdir(parents=True, exist_ok=True)
                for obj in mine:
                    dest = target / obj.relative
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if private:
                        _link_or_copy(cache / obj.relative, dest)
                    else:
                        shutil.copyfile(cache / obj.relative, dest)

    def _prepare(self, request: dict[str, Any], inst: Instance, hosts: list[str]) -> None:
        config = inst.opt_ml / "config"
        config.mkdir(parents=True, exist_ok=True)
        (inst.opt_ml / "output").mkdir(parents=True, exist_ok=True)
        for output in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            if "S3Output" in output:
                (inst.opt_ml / _below_opt_ml(output["S3Output"]["LocalPath"])).mkdir(parents=True, exist_ok=True)
        (config / "processingjobconfig.json").write_text(json.dumps(config_document(request), indent=2), encoding="utf-8")
        cluster = request["ProcessingResources"]["ClusterConfig"]
        resource = {
            "current_host": inst.host,
            "current_instance_type": cluster.get("InstanceType"),
            "current_group_name": "homogeneousCluster",
            "hosts": hosts,
            "instance_groups": [{"instance_group_name": "homogeneousCluster",
                                 "instance_type": cluster.get("InstanceType"), "hosts": hosts}],
        }
        (config / "resourceconfig.json").write_text(json.dumps(resource, indent=2), encoding="utf-8")

    # --- running ----------------------------------------------------------------------------------

    def _start(self, request: dict[str, Any], instances: list[Instance]) -> None:
        app = request["AppSpecification"]
        argv = list(app.get("ContainerEntrypoint") or []) + list(app.get("ContainerArguments") or [])
        if not argv and self.isolation.name != "docker":
            raise JobRequestError(
                "AppSpecification has no ContainerEntrypoint, and the local runtime cannot read the image's",
                hint="set ContainerEntrypoint (e.g. [\"python3\", \"-m\", \"prepline.processing\"]) or use --runtime docker",
            )
        request_env = dict(request.get("Environment") or {})
        for inst in instances:
            env = dict(os.environ)
            # the interpreter running prepline comes first, so `python3` in an entrypoint finds prepline
            env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
            env.update(request_env)
            cmd = self.isolation.command(inst.opt_ml, argv, request_env, f"{request['ProcessingJobName']}-{inst.host}",
                                         app["ImageUri"])
            log = _InstanceLog(inst.log, writers=2)  # closed by the last pump to finish
            inst.process = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                env=env, cwd="/", start_new_session=True,
            )
            self.store.set_instance(request["ProcessingJobName"], inst.host, pid=inst.process.pid)
            inst.pumps = [
                threading.Thread(target=_pump, args=(inst.process.stdout, log, None), daemon=True),
                threading.Thread(target=_pump, args=(inst.process.stderr, log, inst.stderr_tail), daemon=True),
            ]
            for pump in inst.pumps:
                pump.start()

    def _watch(self, name: str, instances: list[Instance], started: float, max_runtime: float) -> str | None:
        last_poll = 0.0
        while True:
            for inst in instances:
                if inst.exit_code is None and inst.process is not None and inst.process.poll() is not None:
                    inst.exit_code = inst.process.returncode
                    self._finish_instance(name, inst)
            if all(i.exit_code is not None for i in instances):
                return None
            if self._stop_signal is not None:
                return str(signal.Signals(self._stop_signal).name)
            if time.monotonic() - started > max_runtime:
                return "timeout"
            if time.monotonic() - last_poll > 0.5:
                last_poll = time.monotonic()
                if self.store.stop_requested(name):
                    return "request"
            time.sleep(0.05)

    def _stopped_before_start(self, name: str) -> str | None:
        if self._stop_signal is not None:
            return str(signal.Signals(self._stop_signal).name)
        return "request" if self.store.stop_requested(name) else None

    def _terminate(self, instances: list[Instance]) -> None:
        """SIGTERM every running instance's process group, wait the grace period, then SIGKILL."""
        running = [i for i in instances if i.process is not None and i.exit_code is None]
        for inst in running:
            _signal_group(inst.process, signal.SIGTERM)  # type: ignore[arg-type]
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and any(i.process.poll() is None for i in running):  # type: ignore[union-attr]
            time.sleep(0.05)
        for inst in running:
            if inst.process.poll() is None:  # type: ignore[union-attr]
                _signal_group(inst.process, signal.SIGKILL)  # type: ignore[arg-type]
            inst.exit_code = inst.process.wait()  # type: ignore[union-attr]
            self._finish_instance(self._name_of(inst), inst)

    def _name_of(self, inst: Instance) -> str:
        return inst.root.parent.parent.name

    def _finish_instance(self, name: str, inst: Instance) -> None:
        for pump in inst.pumps:
            pump.join(timeout=5)
        self.store.set_instance(name, inst.host, exit_code=inst.exit_code)

    def _exit_message(self, instances: list[Instance]) -> str | None:
        for inst in instances:
            path = inst.opt_ml / "output" / "message"
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as handle:
                    return handle.read(EXIT_MESSAGE_BYTES).decode("utf-8", errors="replace")
        return None

    def _upload_outputs(self, request: dict[str, Any], instances: list[Instance]) -> None:
        for output in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            s3 = output["S3Output"]
            for inst in instances:
                local = inst.opt_ml / _below_opt_ml(s3["LocalPath"])
                files = staging.files_to_upload(local)
                with self._bar(f"upload {output['OutputName']} ({inst.host})", sum(p.stat().st_size for p, _ in files)) as advance:
                    staging.upload(local, s3["S3Uri"], progress=advance)

    # --- plumbing ---------------------------------------------------------------------------------

    def _bar(self, label: str, total: int) -> Any:
        from prepline.processing.progress import byte_progress

        return byte_progress(label, total, enabled=self.progress)

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum: int, frame: Any) -> None:
            self._stop_signal = signum

        previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def _restore_signal_handlers(self, previous: dict[int, Any]) -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)


def refuse_unsupported(request: dict[str, Any]) -> None:
    """Modes the local runtime cannot honour are refused up front, each with the reason."""
    problems = []
    entrypoint = list((request.get("AppSpecification") or {}).get("ContainerEntrypoint") or [])
    if entrypoint and Path(str(entrypoint[0])).name == "smspark-submit":
        problems.append(
            "AppSpecification.ContainerEntrypoint: smspark-submit is the entrypoint of SageMaker's Spark container, "
            "which starts YARN across the job's instances and submits the application to it; there is no "
            "smspark-submit here, and the local runtime runs each instance as a plain process, so a Spark job "
            "runs only on SageMaker (prepline job submit). To run the recipe on Spark on this machine: "
            "prepline run RECIPE --input DATA --output DIR --engine spark")
    for i, item in enumerate(request.get("ProcessingInputs") or []):
        if "S3Input" not in item:
            problems.append(f"ProcessingInputs[{i}] ({item.get('InputName')}): only S3Input inputs run locally "
                            "(DatasetDefinition queries Athena or Redshift)")
            continue
        s3 = item["S3Input"]
        if s3.get("S3InputMode", "File") != "File":
            problems.append(f"ProcessingInputs[{i}] ({item.get('InputName')}): S3InputMode {s3['S3InputMode']} "
                            "cannot run locally; use File (the data is downloaded before the entrypoint starts)")
        if s3.get("S3CompressionType", "None") != "None":
            problems.append(f"ProcessingInputs[{i}]: S3CompressionType {s3['S3CompressionType']} needs Pipe mode")
    for i, item in enumerate((request.get("ProcessingOutputConfig") or {}).get("Outputs") or []):
        if "S3Output" not in item:
            problems.append(f"Outputs[{i}] ({item.get('OutputName')}): only S3Output outputs run locally")
        elif item["S3Output"].get("S3UploadMode", "EndOfJob") != "EndOfJob":
            problems.append(f"Outputs[{i}] ({item.get('OutputName')}): S3UploadMode Continuous is not supported "
                            "locally; use EndOfJob (outputs are uploaded when the job completes)")
    if problems:
        raise JobRequestError("the local runtime cannot run this request as written", problems=problems)


def _below_opt_ml(local_path: str) -> str:
    return str(Path(local_path).relative_to("/opt/ml")) if local_path.startswith(PROCESSING_ROOT) else local_path.lstrip("/")


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _ended(code: int | None) -> str:
    """How an instance's process ended: its exit code, or the signal that killed it (OOM killer, kill -9)."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (exit code {code})"
    return f"exited with code {code}"


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group has gone already
        os.killpg(process.pid, sig)


class _InstanceLog:
    """An instance's log file, written line by line by its stdout and stderr pumps and closed by
    the last of them to finish (the first to finish closing it made the other fail writing)."""

    def __init__(self, path: Path, writers: int):
        self._file = open(path, "ab")  # noqa: SIM115 - closed by done()
        self._lock = threading.Lock()
        self._writers = writers

    def write(self, line: bytes) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()).encode()
        with self._lock:
            self._file.write(stamp + b" " + line if line.endswith(b"\n") else stamp + b" " + line + b"\n")
            self._file.flush()

    def done(self) -> None:
        with self._lock:
            self._writers -= 1
            if self._writers == 0:
                self._file.close()


def _pump(stream: Any, log: _InstanceLog, tail: deque[str] | None) -> None:
    """Copy a child's output into the instance log, line by line; keep the last stderr lines."""
    try:
        for line in iter(stream.readline, b""):
            log.write(line)
            if tail is not None:
                tail.append(line.decode("utf-8", errors="replace").rstrip("\n"))
    finally:
        stream.close()
        log.done()


def job_error(job: dict[str, Any]) -> JobError | None:
    """The error to exit with for a finished job, or None when it completed."""
    if job["status"] == "Completed":
        return None
    details = [f"job {job['name']} ended {job['status']}"]
    if job.get("failure_reason"):
        details.append(f"FailureReason: {job['failure_reason']}")
    if job.get("exit_message"):
        details.append(f"ExitMessage: {job['exit_message']}")
    return JobError("\n".join(details), hint=f"read the logs: prepline job logs {job['name']}")
