"""Names that only the AWS service checks, at deployment: every name the templates fix themselves must be
one that service accepts (length and characters, as each API reference states them). Synthesis, cfn-lint
and the nag rules do not check these; a stage slug or a rule added later could break them unseen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

import pytest

from scripts.release.assembly import render
from tests.infra.cfn import props, resources
from tests.infra.conftest import Assembly

# What a token stands for once deployed, at its longest: a stack id's UUID (36 characters).
_STACK_UUID: Final = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
_UUID_STAND_IN: Final = "0" * 36

# WAF VisibilityConfig.MetricName: A-Z, a-z, 0-9, - and _, 1 to 128 characters, not a reserved name.
WAF_METRIC_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
WAF_RESERVED_METRIC_NAMES: Final = frozenset({"All", "Default_Action"})
# IAM RoleName: 1 to 64 characters of [\w+=,.@-].
IAM_ROLE_NAME: Final = re.compile(r"^[\w+=,.@-]{1,64}$")
# CloudWatch Logs log group names: 1 to 512 characters of a-z, A-Z, 0-9, _, -, /, . and #.
LOG_GROUP_NAME: Final = re.compile(r"^[A-Za-z0-9_\-/.#]{1,512}$")
# Lambda alias Name: 1 to 128 characters of [a-zA-Z0-9-_], not all digits.
LAMBDA_ALIAS_NAME: Final = re.compile(r"^(?![0-9]+$)[a-zA-Z0-9_-]{1,128}$")


def _text(value: Any) -> str:
    """A name as deployed: the stack's UUID replaced by a stand-in of its length."""
    if value == _STACK_UUID:
        return _UUID_STAND_IN
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_text(part) for part in parts)
    text = render(value)
    assert "${" not in text, f"a name that is not known at synthesis: {value}"
    return text


def _waf_metric_names(template: dict[str, Any]) -> Iterator[str]:
    for acl in resources(template, "AWS::WAFv2::WebACL").values():
        yield props(acl)["VisibilityConfig"]["MetricName"]
        yield from (rule["VisibilityConfig"]["MetricName"] for rule in props(acl)["Rules"])


def _named(template: dict[str, Any], resource_type: str, name_property: str) -> Iterator[str]:
    for resource in resources(template, resource_type).values():
        if name_property in props(resource):
            yield _text(props(resource)[name_property])


def _every_template(assembly: Assembly) -> list[tuple[str, dict[str, Any]]]:
    return sorted(assembly.templates.items())


@pytest.mark.parametrize(
    ("resource_type", "name_property", "pattern"),
    [
        ("AWS::IAM::Role", "RoleName", IAM_ROLE_NAME),
        ("AWS::Logs::LogGroup", "LogGroupName", LOG_GROUP_NAME),
        ("AWS::Lambda::Alias", "Name", LAMBDA_ALIAS_NAME),
    ],
)
def test_every_fixed_name_is_one_its_service_accepts(
    assembly: Assembly, resource_type: str, name_property: str, pattern: re.Pattern[str]
) -> None:
    for stack, template in _every_template(assembly):
        for name in _named(template, resource_type, name_property):
            assert pattern.match(name), f"{stack}: {resource_type} {name_property} {name!r}"


def test_every_waf_metric_name_is_one_waf_accepts(assembly: Assembly) -> None:
    found = 0
    for stack, template in _every_template(assembly):
        for name in _waf_metric_names(template):
            found += 1
            assert WAF_METRIC_NAME.match(name), f"{stack}: WAF metric name {name!r}"
            assert name not in WAF_RESERVED_METRIC_NAMES, f"{stack}: {name!r} is reserved by WAF"
    assert found, "no WAF metric name found: the check would pass vacuously"


def test_the_name_checks_refuse_what_aws_refuses() -> None:
    # The patterns themselves, at their documented edges.
    assert IAM_ROLE_NAME.match("r" * 64)
    assert not IAM_ROLE_NAME.match("r" * 65)
    assert not IAM_ROLE_NAME.match("role/with-path")
    assert WAF_METRIC_NAME.match("m" * 128)
    assert not WAF_METRIC_NAME.match("m" * 129)
    assert not WAF_METRIC_NAME.match("with space")
    assert not WAF_METRIC_NAME.match("with.dot")
    assert LOG_GROUP_NAME.match("aws-waf-logs-x/y.z_#")
    assert not LOG_GROUP_NAME.match("has:colon")
    assert LAMBDA_ALIAS_NAME.match("live")
    assert not LAMBDA_ALIAS_NAME.match("123")
