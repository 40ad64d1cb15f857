"""Small readers over synthesized CloudFormation templates (plain dicts), for the infrastructure tests."""

from __future__ import annotations

from typing import Any


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def one(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties", {})


def ref_target(value: Any) -> str | None:
    """The logical id a Ref / Fn::GetAtt points to, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def mentions(value: Any, logical_id: str) -> bool:
    """Whether an intrinsic-laden value refers to ``logical_id`` anywhere (Ref, GetAtt, Sub, Join...)."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        if "Fn::GetAtt" in value and value["Fn::GetAtt"][0] == logical_id:
            return True
        return any(mentions(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, logical_id) for v in value)
    return isinstance(value, str) and f"${{{logical_id}" in value


def api_paths(template: dict[str, Any]) -> dict[str, str]:
    """Full path ("/v1/predict") -> logical id of its AWS::ApiGateway::Resource; "/" -> the RestApi."""
    api_id, _ = one(template, "AWS::ApiGateway::RestApi")
    parts = {k: props(v) for k, v in resources(template, "AWS::ApiGateway::Resource").items()}

    def path_of(logical_id: str) -> str:
        parent = parts[logical_id]["ParentId"]
        prefix = "" if ref_target(parent) == api_id else path_of(str(ref_target(parent)))
        return f"{prefix}/{parts[logical_id]['PathPart']}"

    return {"/": api_id, **{path_of(k): k for k in parts}}


def methods_by_path(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(path, HTTP method) -> the Method's properties."""
    return {key: method for key, (_, method) in method_ids_by_path(template).items()}


def method_ids_by_path(template: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(path, HTTP method) -> (logical id, properties) of the Method."""
    api_id, _ = one(template, "AWS::ApiGateway::RestApi")
    logical_to_path = {v: k for k, v in api_paths(template).items()}
    found = {}
    for logical_id, method in resources(template, "AWS::ApiGateway::Method").items():
        p = props(method)
        target = ref_target(p["ResourceId"])
        path = "/" if target == api_id else logical_to_path[str(target)]
        found[(path, p["HttpMethod"])] = (logical_id, p)
    return found


def policy_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement of identity policies (AWS::IAM::Policy, ::ManagedPolicy, inline role policies)."""
    statements: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in template["Resources"].items():
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props(resource)["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents.extend(p["PolicyDocument"] for p in props(resource).get("Policies", []))
        for document in documents:
            statements.extend((logical_id, s) for s in document["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
