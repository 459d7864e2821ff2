"""`prepline cost`: prices come from a dated, sourced file; every line item is exact arithmetic."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from prepline.cli.cost_cmd import cost
from prepline.errors import JobError, JobRequestError
from prepline.processing import cost as costs
from tests.processing.conftest import request, s3_input

SEED = request("seed-example", [s3_input("data", "s3://bucket/in/", "/opt/ml/processing/input")],
               "s3://bucket/out/", ["python3", "x.py"], count=1, max_runtime=600)
GB = 2**30
EXACT = 1e-12  # float arithmetic only: the formulas themselves are compared exactly


def body(**cluster):
    out = copy.deepcopy(SEED)
    out["ProcessingResources"]["ClusterConfig"].update(cluster)
    return out


# --- the price file ---------------------------------------------------------------------------


def test_the_price_file_is_package_data_with_a_source_and_date_for_every_section():
    prices = costs.load_prices()
    assert prices["currency"] == "USD"
    assert prices["region"] == "us-east-1"
    assert "approximate" in prices["note"].lower() and "changes prices" in prices["note"]
    for section in ("processing", "ml_storage", "s3_standard"):
        part = prices[section]
        assert part["source"].startswith("https://aws.amazon.com/"), section
        assert datetime.strptime(part["retrieved"], "%Y-%m-%d"), section
        assert part["approximate"] is True, section
        assert part["unit"].startswith("USD per "), section


def test_every_price_is_positive_and_the_seed_figures_are_kept():
    prices = costs.load_prices()
    table = prices["processing"]["prices"]
    assert len(table) == 23
    assert all(isinstance(v, int | float) and v > 0 for v in table.values()), table
    assert table["ml.t3.medium"] == 0.05  # seed guide, Step 11
    assert prices["s3_standard"]["price"] == 0.023  # seed guide, Step 11
    assert prices["ml_storage"]["price"] == 0.14


def test_every_priced_type_is_a_processing_instance_type_sagemaker_accepts():
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateProcessingJob").input_shape
    accepted = set(shape.members["ProcessingResources"].members["ClusterConfig"].members["InstanceType"].enum)
    assert set(costs.known_instance_types()) <= accepted


def test_load_prices_returns_a_fresh_copy():
    costs.load_prices()["processing"]["prices"]["ml.t3.medium"] = 99
    assert costs.hourly_rate("ml.t3.medium") == 0.05


# --- estimates --------------------------------------------------------------------------------


def test_the_seed_example_ten_minutes_of_one_t3_medium():
    bill = costs.estimate(SEED, 10)
    assert bill.compute.usd == pytest.approx(0.05 * 10 / 60, abs=EXACT)
    assert round(bill.compute.usd, 4) == 0.0083
    assert bill.compute.detail == "1 x ml.t3.medium x 10 min x $0.05/hour"
    assert bill.currency == "USD"
    assert bill.duration_source == "given"
    assert bill.to_dict()["items"][0] == {
        "name": "compute", "label": "Processing compute",
        "detail": "1 x ml.t3.medium x 10 min x $0.05/hour", "usd": 0.008333,
    }


def test_the_seed_example_with_one_gb_in_s3_is_about_three_cents():
    bill = costs.estimate(SEED, 10, input_bytes=GB)
    assert bill.s3.usd == pytest.approx(0.023, abs=EXACT)
    assert bill.s3.detail == "1.000 GB x $0.023/GB-month x 1 month"
    # 0.05/6 compute + 30 GB x 0.14 x (1/6 h) / 730 storage + 0.023 S3
    assert bill.total_usd == pytest.approx(0.05 / 6 + 30 * 0.14 / 6 / 730 + 0.023, abs=EXACT)
    assert bill.to_dict()["total_usd"] == 0.032292
    assert round(bill.total_usd, 2) == 0.03  # the seed's "~$0.03 per run"


def test_compute_and_storage_scale_with_the_instance_count():
    one = costs.estimate(body(InstanceCount=1, InstanceType="ml.m5.xlarge"), 90)
    four = costs.estimate(body(InstanceCount=4, InstanceType="ml.m5.xlarge"), 90)
    assert one.compute.usd == pytest.approx(0.23 * 1.5, abs=EXACT)
    assert four.compute.usd == pytest.approx(0.23 * 4 * 1.5, abs=EXACT)
    assert four.storage.usd == pytest.approx(4 * one.storage.usd, abs=EXACT)
    assert four.compute.detail == "4 x ml.m5.xlarge x 90 min x $0.23/hour"
    assert four.to_dict()["items"][0]["usd"] == 1.38


def test_storage_is_the_volume_per_instance_priced_per_gb_month_of_730_hours():
    bill = costs.estimate(body(InstanceCount=2, VolumeSizeInGB=100), 730 * 60)  # one whole month
    assert bill.storage.usd == pytest.approx(2 * 100 * 0.14, abs=EXACT)
    assert bill.storage.name == "ml_storage"
    assert bill.storage.detail == "2 x 100 GB x 43800 min x $0.14/GB-month (730 h)"
    hour = costs.estimate(body(VolumeSizeInGB=30), 60)
    assert hour.storage.usd == pytest.approx(30 * 0.14 / 730, abs=EXACT)
    assert hour.to_dict()["items"][1]["usd"] == 0.005753


def test_s3_counts_inputs_and_outputs_together_for_one_month():
    bill = costs.estimate(SEED, 10, input_bytes=3 * GB, output_bytes=GB // 2)
    assert bill.s3.usd == pytest.approx(3.5 * 0.023, abs=EXACT)
    assert bill.s3.label == "S3 storage (1 month)"
    assert any("one month of S3 Standard" in a for a in bill.assumptions)


def test_without_sizes_s3_is_zero_and_the_assumptions_say_so():
    bill = costs.estimate(SEED, 10)
    assert bill.s3.usd == 0.0
    assert bill.s3.detail == "not counted (sizes not given)"
    assert "S3 storage not counted: give the input and output sizes to include it" in bill.assumptions
    assert any(a.startswith("prices: us-east-1 on-demand list prices, approximate, retrieved ") for a in bill.assumptions)


def test_minutes_default_to_max_runtime_the_worst_case():
    bill = costs.estimate(request("worst", [], "s3://b/o/", ["x"], max_runtime=5400), None)
    assert bill.minutes == 90.0
    assert bill.duration_source == "MaxRuntimeInSeconds"
    assert bill.compute.usd == pytest.approx(0.05 * 1.5, abs=EXACT)
    assert bill.assumptions[0] == (
        "duration: 90 min, the request's StoppingCondition.MaxRuntimeInSeconds (5400 s)"
        " - the worst case; pass --minutes for an expected duration"
    )
    assert costs.default_minutes(SEED) == 10.0


def test_no_max_runtime_and_no_minutes_is_an_error_that_asks_for_minutes():
    bare = copy.deepcopy(SEED)
    del bare["StoppingCondition"]
    with pytest.raises(JobRequestError, match=r"no StoppingCondition\.MaxRuntimeInSeconds") as err:
        costs.estimate(bare, None)
    assert err.value.hint == "give the expected duration with --minutes N"


@pytest.mark.parametrize("minutes", [0, -5, float("nan"), float("inf"), True, "10"])
def test_minutes_must_be_positive(minutes):
    with pytest.raises(JobRequestError, match="minutes must be a number greater than 0"):
        costs.estimate(SEED, minutes)


@pytest.mark.parametrize(("size", "what"), [(-1, "input"), (1.5, "input"), (True, "input")])
def test_sizes_are_whole_non_negative_bytes(size, what):
    with pytest.raises(JobRequestError, match=f"{what} size must be a whole number of bytes >= 0"):
        costs.estimate(SEED, 10, input_bytes=size)


def test_unknown_instance_type_lists_the_known_ones_and_the_closest():
    with pytest.raises(JobRequestError) as err:
        costs.estimate(body(InstanceType="ml.t3.meduim"), 10)
    known = costs.known_instance_types()
    assert err.value.message == f"no price for instance type 'ml.t3.meduim'; known types: {', '.join(known)}"
    assert err.value.hint == "use 'ml.t3.medium' (the closest known type), or add its hourly rate to prepline/processing/prices.json"
    assert known[:2] == ["ml.t3.medium", "ml.t3.large"]
    assert err.value.exit_code == 2


def test_unknown_type_far_from_all_known_has_no_guess():
    with pytest.raises(JobRequestError) as err:
        costs.hourly_rate("trn1")
    assert err.value.hint == "add its hourly rate to prepline/processing/prices.json"


def test_a_broken_cluster_config_lists_every_problem():
    with pytest.raises(JobRequestError) as err:
        costs.estimate(body(InstanceCount=0, VolumeSizeInGB="30"), 10)
    assert err.value.problems == [
        "ProcessingResources.ClusterConfig.InstanceCount: expected a whole number >= 1, got 0",
        "ProcessingResources.ClusterConfig.VolumeSizeInGB: expected a whole number >= 1, got '30'",
    ]


def test_prices_can_be_injected():
    prices = costs.load_prices()
    prices["processing"]["prices"] = {"ml.t3.medium": 1.0}
    bill = costs.estimate(SEED, 30, prices=prices)
    assert bill.compute.usd == 0.5


# --- actual cost of a finished job ------------------------------------------------------------

START = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)


def described(start, end, **extra):
    out = copy.deepcopy(SEED)
    out.update({"ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/seed-example",
                "ProcessingJobStatus": "Completed", **extra})
    if start is not None:
        out["ProcessingStartTime"] = start
    if end is not None:
        out["ProcessingEndTime"] = end
    return out


@pytest.mark.parametrize("as_text", [True, False], ids=["iso-strings", "datetimes"])
def test_actual_cost_from_start_and_end_times(as_text):
    start, end = START, START + timedelta(minutes=10)
    job = described(start.isoformat(timespec="milliseconds") if as_text else start,
                    end.isoformat(timespec="milliseconds") if as_text else end)
    bill = costs.actual_cost(job)
    assert bill.minutes == 10.0
    assert bill.duration_source == "ProcessingStartTime..ProcessingEndTime"
    assert bill.compute.usd == pytest.approx(0.05 * 10 / 60, abs=EXACT)
    assert bill.compute.detail == "1 x ml.t3.medium x 600 s x $0.05/hour"
    assert bill.s3.usd == 0.0
    assert costs.cost_lines_for_job(job) == {
        "billable_seconds": 600,
        "compute_usd": 0.008333,
        "storage_usd": 0.000959,
        "total_usd": 0.009292,
        "instance_type": "ml.t3.medium",
        "instance_count": 1,
        "currency": "USD",
        "note": None,
    }
    assert costs.cost_summary(job) == (
        "$0.0093 (600 s billable: compute $0.0083 + ML storage $0.0010; approximate list price)"
    )


def test_boto3_style_datetimes_with_a_cluster_of_three():
    job = described(START, START + timedelta(hours=2))
    job["ProcessingResources"]["ClusterConfig"].update(InstanceCount=3, InstanceType="ml.r5.2xlarge")
    lines = costs.cost_lines_for_job(job)
    assert lines["billable_seconds"] == 7200
    assert lines["compute_usd"] == 3.63  # 0.605 x 3 x 2
    assert lines["storage_usd"] == round(30 * 3 * 0.14 * 2 / 730, 6) == 0.034521
    assert lines["total_usd"] == 3.664521
    assert lines["instance_count"] == 3


def test_billing_is_per_second_rounded_up_with_no_minimum():
    assert costs.billable_seconds(0.2) == 1
    assert costs.billable_seconds(61.001) == 62
    assert costs.billable_seconds(600.0000000001) == 600  # float noise is not a second
    job = described("2026-11-26T09:00:00.000+00:00", "2026-11-26T09:00:12.400+00:00")
    bill = costs.actual_cost(job)
    assert bill.minutes == 13 / 60
    assert bill.compute.usd == pytest.approx(0.05 * 13 / 3600, abs=EXACT)
    assert bill.assumptions[0] == (
        "duration: 13 s billable (ProcessingStartTime to ProcessingEndTime, per-second billing"
        " rounded up to a whole second, no minimum)"
    )


def test_a_job_that_has_not_ended_has_no_actual_cost_yet():
    running = described(START, None, ProcessingJobStatus="InProgress")
    assert costs.cost_lines_for_job(running) is None
    assert costs.cost_summary(running) is None
    with pytest.raises(JobError, match=r"job seed-example \(InProgress\) has no ProcessingStartTime"):
        costs.actual_cost(running)


def test_an_unpriced_type_does_not_break_describe():
    job = described(START, START + timedelta(minutes=1))
    job["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.g5.xlarge"
    lines = costs.cost_lines_for_job(job)
    assert lines["billable_seconds"] == 60
    assert lines["compute_usd"] is lines["storage_usd"] is lines["total_usd"] is None
    assert lines["note"] == "no price for instance type 'ml.g5.xlarge'"
    assert costs.cost_summary(job) == "unknown: no price for instance type 'ml.g5.xlarge'"


def test_a_job_in_another_region_is_flagged():
    job = described(START, START + timedelta(minutes=1))
    job["ProcessingJobArn"] = "arn:aws:sagemaker:eu-west-1:123456789012:processing-job/seed-example"
    assert costs.cost_lines_for_job(job)["note"] == (
        "the job ran in eu-west-1 but the prices are us-east-1 list prices"
    )


# --- the command ------------------------------------------------------------------------------

runner = CliRunner()


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("cost")(cost)
    app.command("noop")(lambda: None)  # two commands, so `cost` stays a subcommand as in prepline
    return app


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(SEED), encoding="utf-8")
    return path


def test_cost_command_prints_a_table_of_line_items(job_file):
    result = runner.invoke(cli(), ["cost", str(job_file), "--minutes", "10", "--input-gb", "1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "seed-example: estimated cost (USD)"
    assert any("Processing compute" in line and "$0.0083" in line for line in lines)
    assert any("ML storage volume" in line and "$0.0010" in line for line in lines)
    assert any("S3 storage (1 month)" in line and "$0.0230" in line for line in lines)
    assert any("Total" in line and "$0.0323" in line for line in lines)
    assert "- duration: 10 min, as given" in lines


def test_cost_command_json_defaults_to_max_runtime(job_file):
    result = runner.invoke(cli(), ["cost", str(job_file), "--json", "--output-gb", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["request"] == str(job_file)
    assert data["minutes"] == 10.0
    assert data["duration_source"] == "MaxRuntimeInSeconds"
    assert [i["usd"] for i in data["items"]] == [0.008333, 0.000959, 0.046]
    assert data["total_usd"] == 0.055292
    assert data["currency"] == "USD"
    assert data["assumptions"][0].startswith("duration: 10 min, the request's StoppingCondition.MaxRuntimeInSeconds (600 s)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--minutes", "0"], "minutes must be a number greater than 0, got 0.0"),
        (["--input-gb", "-1"], "--input-gb must be 0 or more, got -1.0"),
    ],
)
def test_cost_command_refuses_bad_numbers(job_file, args, message):
    result = runner.invoke(cli(), ["cost", str(job_file), *args])
    assert isinstance(result.exception, JobRequestError)
    assert str(result.exception) == message


def test_cost_command_unknown_type_suggests_the_closest(tmp_path):
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(body(InstanceType="ml.t3.meduim")), encoding="utf-8")
    result = runner.invoke(cli(), ["cost", str(path), "--minutes", "5"])
    assert isinstance(result.exception, JobRequestError)
    assert "Fix: use 'ml.t3.medium' (the closest known type)" in str(result.exception)
