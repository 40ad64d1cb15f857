"""The cold-start saving taken from Powertools' import-time behaviour, guarded against Powertools upgrades.

lambda_fn.lazy_imports defers the __init__ of the event_handler package (it imports every resolver
Powertools ships) and of utilities.data_classes (every event source's classes). These checks run in a fresh
interpreter over the image's exact contents, so that a Powertools release that changes how its modules
import each other fails here, not silently in production.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from model.core import contract
from scripts.dev.image_root import build_image_root, build_runtime_dir
from scripts.dev.rie import isolated_python


@pytest.fixture(scope="module")
def isolated(
    tmp_path_factory: pytest.TempPathFactory, model_artifact_path: Path
) -> tuple[list[str], dict[str, str]]:
    root = build_image_root(tmp_path_factory.mktemp("image") / "var-task")
    runtime = build_runtime_dir(tmp_path_factory.mktemp("runtime") / "site-packages")
    return isolated_python(root, runtime, contract.function_environment(stage="imports", log_level="ERROR"))


def run(isolated: tuple[list[str], dict[str, str]], code: str) -> dict[str, object]:
    python, env = isolated
    result = subprocess.run(
        [*python, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return answer


def test_the_handler_does_not_import_the_resolvers_and_events_it_does_not_use(isolated) -> None:
    answer = run(
        isolated,
        "import sys, json, lambda_fn.handler;"
        "print(json.dumps({'loaded': sorted(m for m in sys.modules if m.startswith("
        "('asyncio', 'ssl', 'zipfile', 'aws_lambda_powertools.event_handler.appsync', "
        "'aws_lambda_powertools.event_handler.bedrock_agent', "
        "'aws_lambda_powertools.utilities.data_classes.code_pipeline_job_event', "
        "'aws_lambda_powertools.utilities.data_classes.kinesis_firehose_event', "
        "'aws_lambda_powertools.utilities.data_classes.s3_event')))}))",
    )
    assert answer == {"loaded": []}


def test_the_whole_event_handler_package_still_works_after_the_deferral(isolated) -> None:
    answer = run(
        isolated,
        "import json, lambda_fn.handler;"
        "from aws_lambda_powertools.event_handler import AppSyncResolver, APIGatewayRestResolver;"
        "import aws_lambda_powertools.event_handler as package;"
        "print(json.dumps({'names': [AppSyncResolver.__name__, APIGatewayRestResolver.__name__],"
        " 'all': sorted(package.__all__)[:2]}))",
    )
    assert answer == {
        "names": ["AppSyncResolver", "APIGatewayRestResolver"],
        "all": ["ALBResolver", "APIGatewayHttpResolver"],
    }


def test_the_whole_data_classes_package_still_works_after_the_deferral(isolated) -> None:
    answer = run(
        isolated,
        "import json, lambda_fn.handler;"
        "from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent as early;"
        "from aws_lambda_powertools.utilities.data_classes import SQSEvent;"
        "import aws_lambda_powertools.utilities.data_classes as package;"
        "from aws_lambda_powertools.utilities.data_classes import api_gateway_proxy_event as module;"
        "print(json.dumps({'same': early is module.APIGatewayProxyEvent is package.APIGatewayProxyEvent,"
        " 'sqs': SQSEvent.__name__, 'all': 'S3Event' in package.__all__}))",
    )
    assert answer == {"same": True, "sqs": "SQSEvent", "all": True}
