"""The HTML report: self-contained, with its charts, and it loads in headless Chromium cleanly."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from prepline.errors import InputError
from prepline.examples import employees_recipe
from prepline.pipeline import run_recipe
from prepline.quality import check_drift, profile_run, write_profiles
from prepline.report import REPORT_FILE, build_report, write_report
from prepline.sample.employees import employees_frame

RULES = [
    {
        "rule": "not_null",
        "column": "id",
        "severity": "error",
        "passed": True,
        "failing_rows": 0,
        "message": "no missing ids",
    },
    {
        "rule": "between(18, 70)",
        "column": "age",
        "severity": "warn",
        "passed": False,
        "failing_rows": 41,
        "message": "41 rows outside [18, 70]",
    },
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of the employees recipe with rejected rows, profiles, rules and drift."""
    root = tmp_path_factory.mktemp("report")
    frame = employees_frame(1200, seed=3)
    broken = (
        pl.when(pl.col("id") % 40 == 0).then(pl.lit("{not json <b>")).otherwise(pl.col("profile"))
    )
    frame.with_columns(broken.alias("profile")).write_csv(root / "employees.csv")
    employees_frame(1200, seed=4).with_columns(pl.col("age") - 8).write_csv(root / "baseline.csv")
    out = root / "out"
    manifest = run_recipe(employees_recipe(), str(root / "employees.csv"), str(out)).manifest
    files = {name: out / info["path"] for name, info in manifest["outputs"].items()}
    bundle = profile_run(str(root / "employees.csv"), files)
    write_profiles(out, bundle)
    manifest["rules"] = RULES
    manifest["drift"] = check_drift(
        root / "baseline.csv", bundle["input"], on_drift="warn"
    ).as_dict()
    (out / "_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    write_report(out)
    return out


@pytest.fixture(scope="module")
def html(run_dir: Path) -> str:
    return (run_dir / REPORT_FILE).read_text(encoding="utf-8")


class Refs(HTMLParser):
    """Every tag, and every attribute that can load something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[tuple[str, str, str]] = []
        self.scripts_with_src = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if (
                name in ("src", "href", "xlink:href", "srcset", "poster", "data", "action")
                and value
            ):
                self.links.append((tag, name, value))
            if tag == "script" and name == "src":
                self.scripts_with_src += 1


def test_the_report_is_self_contained(html: str) -> None:
    refs = Refs()
    refs.feed(html)
    assert refs.scripts_with_src == 0
    assert "link" not in refs.tags and "iframe" not in refs.tags and "img" not in refs.tags
    outside = [r for r in refs.links if not r[2].startswith("#")]
    assert outside == [], "only in-page links: " + repr(outside[:5])
    lowered = html.lower()
    assert "url(http" not in lowered and "@import" not in lowered and "@font-face" not in lowered
    assert "<!doctype svg" not in lowered  # matplotlib's DOCTYPE names an external DTD


def test_the_report_holds_the_summary_rules_drift_rejected_rows_and_charts(
    html: str, run_dir: Path
) -> None:
    manifest = json.loads((run_dir / "_manifest.json").read_text(encoding="utf-8"))
    rejected = manifest["outputs"]["rejected"]["rows"]
    assert rejected == 30
    assert "<h1>employees</h1>" in html
    assert "1 warning, 30 rows rejected" in html  # the status pill
    assert "41 rows outside [18, 70]" in html and 'class="pill warn">warning' in html
    assert 'id="drift"' in html and "wasserstein" in html and "drifted</span>" in html
    assert "the first 20 of 30" in html
    assert html.count('class="reason" title="column &#39;profile&#39;: not a JSON object"') == 20
    assert "{not json <b>" not in html and "{not json &lt;b&gt;" in html  # data is escaped
    charts = html.count('<svg role="img"')
    columns = sum(len(o["columns"]) for n, o in manifest["outputs"].items() if n != "rejected")
    assert charts >= 3 + columns - 8  # a missingness chart per output, most columns charted
    assert html.count('class="nochart"') <= 8  # identifiers and free text only


def test_build_report_takes_parts_directly_and_escapes_them(tmp_path: Path) -> None:
    manifest = {
        "recipe": {"name": "tiny <i>"},
        "rows_in": 2,
        "outputs": {},
        "timings_s": {"wall": 0.5},
    }
    page = build_report(
        tmp_path,
        manifest=manifest,
        input_profile=None,
        output_profiles={},
        rules=[
            {
                "rule": "r",
                "column": "c",
                "severity": "error",
                "passed": False,
                "failing_rows": 2,
                "message": "<script>alert(1)</script>",
            }
        ],
        rejected_sample=[{"_row": 1, "_step": "1:x", "_reason": "<img src=http://evil>"}],
    )
    assert "<script>alert(1)" not in page and "<img src=http" not in page
    assert "tiny &lt;i&gt;" in page and "1 rule failed" in page and 'class="status fail"' in page


# --- headless Chromium ----------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class DevTools:
    """Just enough of the Chrome DevTools protocol, over --remote-debugging-pipe (no packages)."""

    def __init__(self, binary: str, profile_dir: Path):
        to_chrome_r, self._out = os.pipe()
        self._in, from_chrome_w = os.pipe()
        high_r, high_w = os.dup2(to_chrome_r, 100), os.dup2(from_chrome_w, 101)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def fds() -> None:  # the pipe ends as fds 3 and 4, where Chromium looks for them
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--mute-audio",
                f"--user-data-dir={profile_dir}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(3, 4, high_r, high_w),
            preexec_fn=fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(high_r)
        os.close(high_w)
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._in, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._lock:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                self._lock.notify_all()

    def send(
        self, method: str, session: str | None = None, timeout: float = 30, **params: Any
    ) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        with self._lock:
            if not self._lock.wait_for(lambda: ident in self._replies, timeout):
                raise TimeoutError(method)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, method: str, timeout: float = 30) -> None:
        with self._lock:
            if not self._lock.wait_for(
                lambda: any(e.get("method") == method for e in self.events), timeout
            ):
                raise TimeoutError(method)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)


class Page:
    """A page loaded in headless Chromium: ``js()`` evaluates in it; ``problems`` and ``requests``
    are what it logged (exceptions, console errors and warnings) and what it asked the network for."""

    def __init__(self, url: str, profile_dir: Path):
        self.browser = DevTools(CHROMIUM, profile_dir)  # type: ignore[arg-type]
        try:
            target = self.browser.send("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.browser.send(
                "Target.attachToTarget", targetId=target, flatten=True
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.browser.send(f"{domain}.enable", self.session)
            self.browser.send(
                "Emulation.setDeviceMetricsOverride",
                self.session,
                width=1280,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            self.browser.send("Page.navigate", self.session, url=url)
            self.browser.wait_for("Page.loadEventFired")
            time.sleep(0.3)  # let the page's scripts run and anything late show up
        except BaseException:
            self.browser.close()
            raise

    def js(self, expression: str) -> Any:
        reply = self.browser.send(
            "Runtime.evaluate", self.session, expression=expression, returnByValue=True
        )
        return reply["result"].get("value")

    def screenshot(self, height: int) -> bytes:
        shot = self.browser.send(
            "Page.captureScreenshot",
            self.session,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1},
        )
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        self.browser.close()

    @property
    def problems(self) -> list[dict[str, Any]]:
        return [
            e["params"]
            for e in self.browser.events
            if e.get("method") == "Runtime.exceptionThrown"
            or (
                e.get("method") == "Runtime.consoleAPICalled"
                and e["params"].get("type") in ("error", "warning", "assert")
            )
            or (
                e.get("method") == "Log.entryAdded"
                and e["params"]["entry"].get("level") in ("error", "warning")
            )
        ]

    @property
    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.browser.events
            if e.get("method") == "Network.requestWillBeSent"
        ]


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)"
)


@needs_chromium
def test_the_report_loads_in_chromium_without_errors_and_shows_its_charts(
    run_dir: Path, html: str, tmp_path: Path
) -> None:
    page = Page((run_dir / REPORT_FILE).as_uri(), tmp_path / "chromium-profile")
    try:
        laid_out = "Array.from(document.querySelectorAll('svg.chart')).filter(s => s.getBoundingClientRect().width > 100)"
        assert page.js(laid_out + ".length") >= 3  # the open output's missingness and column charts
        assert (
            page.js("document.querySelectorAll('svg.chart').length")
            == html.count('<svg role="img"')
            >= 20
        )
        assert page.js("document.querySelector('h1').textContent") == "employees"
        page.js("document.querySelector('#drift th').click()")  # the sort script runs
        assert (
            page.js("document.querySelector('#drift th').getAttribute('aria-sort')") == "ascending"
        )
        png = page.screenshot(2400)
    finally:
        page.close()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000  # a page with content, not a blank one
    (tmp_path / "report.png").write_bytes(png)
    if os.environ.get(
        "PREPLINE_SCREENSHOT_DIR"
    ):  # to look at it: PREPLINE_SCREENSHOT_DIR=/tmp pytest ...
        Path(os.environ["PREPLINE_SCREENSHOT_DIR"], "report.png").write_bytes(png)
    assert page.problems == []
    assert all(url.startswith(("file://", "about:", "data:")) for url in page.requests), (
        page.requests
    )


@needs_chromium
def test_the_chromium_check_sees_errors_and_outside_requests(tmp_path: Path) -> None:
    """The check above is not vacuous: a broken page fails it."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!doctype html><title>x</title><img src='missing.png'>"
        "<script>console.error('boom'); undefinedFunction();</script>",
        encoding="utf-8",
    )
    page = Page(broken.as_uri(), tmp_path / "chromium-profile")
    page.close()
    kinds = {
        p.get("type")
        or ("exception" if "exceptionDetails" in p else p.get("entry", {}).get("source"))
        for p in page.problems
    }
    assert {"error", "exception"} <= kinds, page.problems
    assert any(url.endswith("missing.png") for url in page.requests)


def test_the_report_command_regenerates_the_page_from_the_folder_alone(
    run_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import importlib

    import typer

    from prepline.cli import quality_cmd

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("report")(quality_cmd.report)
    app.command("profile")(quality_cmd.profile)  # two commands, so the CLI keeps subcommand names
    cli = importlib.import_module("prepline.cli.app")  # the module: the package exports the app
    monkeypatch.setattr(cli, "app", app)
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / REPORT_FILE).unlink()
    (copy / "profile.json").unlink()  # without profiles, the outputs are profiled again
    assert cli.main(["report", str(copy), "--no-open"]) == 0
    assert capsys.readouterr().out.strip() == str(copy / REPORT_FILE)
    text = (copy / REPORT_FILE).read_text(encoding="utf-8")
    assert "holds no input profile" in text and text.count('<svg role="img"') > 10
    assert cli.main(["report", str(tmp_path / "nothing-here")]) == 2
    with pytest.raises(InputError, match=r"no _manifest\.json"):
        write_report(tmp_path)
