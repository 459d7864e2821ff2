"""`job describe --format markdown`: the step summary the preprocess workflow writes."""

from __future__ import annotations

import json

from tests.conftest import REPO
from tests.processing.conftest import prepline, request, s3_input


def test_markdown_summary_of_a_finished_recipe_job(tmp_path, home, mock_data, namespaces):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "employees.csv").write_bytes(mock_data.read_bytes())
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "recipe.yaml").write_bytes((REPO / "examples/employees/recipe.yaml").read_bytes())
    body = request("summary-job", [
        s3_input("input-data", (tmp_path / "in").as_uri(), "/opt/ml/processing/input/data"),
        s3_input("code", (tmp_path / "code").as_uri(), "/opt/ml/processing/input/code"),
    ], (tmp_path / "out").as_uri(), ["python3", "-m", "prepline.processing"])
    path = tmp_path / "job.json"
    path.write_text(json.dumps(body))
    assert prepline("job", "run", str(path)).returncode == 0
    result = prepline("job", "describe", "summary-job", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("## Processing job `summary-job`: Completed")
    assert "| rows in | 20,000 |" in text
    assert "| rows out: transformed_data | 20,000 |" in text
    assert "| rows out: department_statistics | 5 |" in text
    assert "| cost | $" in text
    assert "| logs | `prepline job logs summary-job` |" in text


def test_markdown_summary_of_a_cloud_job_links_to_logs_and_outputs():
    from prepline.processing.summary import markdown

    described = {
        "ProcessingJobName": "prepline-x-1", "ProcessingJobStatus": "Failed",
        "ProcessingJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:processing-job/prepline-x-1",
        "ProcessingStartTime": "2026-01-01T00:00:00+00:00", "ProcessingEndTime": "2026-01-01T00:10:00+00:00",
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 30}},
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "output-data", "S3Output": {
            "S3Uri": "s3://processed/output/prepline-x-1/", "LocalPath": "/opt/ml/processing/output"}}]},
        "FailureReason": "AlgorithmError: exit | 3", "ExitMessage": "bad\ninput",
    }
    text = markdown(described, None)
    assert "| duration | 600 s |" in text
    assert "| FailureReason | AlgorithmError: exit \\| 3 |" in text  # table-safe
    assert "| ExitMessage | bad<br>input |" in text
    assert "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FProcessingJobs" in text
    assert "https://s3.console.aws.amazon.com/s3/buckets/processed?region=eu-west-1&prefix=output/prepline-x-1/" in text
    assert "compute $0.0083" in text
