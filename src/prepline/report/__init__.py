"""The HTML report of a run: a self-contained page with the run summary, rules, drift and charts."""

from prepline.report.build import REPORT_FILE, build_report, write_report

__all__ = ["REPORT_FILE", "build_report", "write_report"]
