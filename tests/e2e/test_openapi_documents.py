# SPDX-License-Identifier: AGPL-3.0-or-later
"""The OpenAPI documents in docs/ (focal's REST API and focal-ml's API): valid OpenAPI 3, and every operation has a
unique operationId and a summary. Reads files only: no server, no fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate as validate_spec

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOCUMENTS = ["openapi.yaml", "openapi-ml.yaml"]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def load(name: str) -> dict:
    return yaml.safe_load((DOCS / name).read_text())


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_is_valid_openapi(name):
    validate_spec(load(name))


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_operation_has_a_unique_operation_id_and_a_summary(name):
    ops = list(operations(load(name)))
    assert ops, f"{name} documents no operation"
    missing_id = [where for where, op in ops if not str(op.get("operationId", "")).strip()]
    missing_summary = [where for where, op in ops if not str(op.get("summary", "")).strip()]
    assert not missing_id, f"{name}: operations without operationId: {missing_id}"
    assert not missing_summary, f"{name}: operations without summary: {missing_summary}"
    seen: dict[str, str] = {}
    duplicates = []
    for where, op in ops:
        if op["operationId"] in seen:
            duplicates.append(f"{op['operationId']} ({seen[op['operationId']]}, {where})")
        seen.setdefault(op["operationId"], where)
    assert not duplicates, f"{name}: duplicate operationIds: {duplicates}"
