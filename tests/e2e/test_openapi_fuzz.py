"""schemathesis over the published OpenAPI: generated requests (valid and not) must never meet a 5xx,
an undocumented status or content type, or a response outside the schema."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system import Api, Running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
]  # over 1,000 requests through the whole stack


def test_generated_requests_find_no_server_error_and_no_response_outside_the_schema(
    system: Running, api: Api
) -> None:
    _, _, doctor = api.dossier_with_consenting_doctor("fuzz@patients.dmp-test.fr")
    schemathesis = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{system.stack.gateway_url}/api/v1/openapi.json",
            "-H",
            f"Authorization: {doctor['Authorization']}",
            "-n",
            "12",
            "--seed",
            "20261123",
            "-c",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert done.returncode == 0 and summary is not None, done.stdout[-3000:]
    generated, passed = map(int, summary.groups())
    assert generated >= 1000 and passed == generated
