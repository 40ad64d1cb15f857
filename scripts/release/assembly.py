"""Proves that a synthesised cloud assembly is the one this release deploys, before each deployment.

It must be the `cdk.out` the synth job fingerprinted, run the tested digest from each stage's own bootstrap
repository, and hold no image asset that could be built at deploy time. Run by the synth and deploy jobs
of .github/workflows/release.yml, or by hand (docs/delivery.md, "Running the pieces locally").
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from infra_cdk.settings import StageSettings
from scripts.release import ReleaseError, parse_digest, parse_stage_account, run, stage_image


def fingerprint(assembly: Path) -> str:
    """SHA-256 over (relative path, SHA-256 of contents) of every file, in path order."""
    if not (assembly / "manifest.json").is_file():
        raise ReleaseError(f"{assembly} is not a cloud assembly (no manifest.json)")
    total = hashlib.sha256()
    for path in sorted(p for p in assembly.rglob("*") if p.is_file()):
        relative = path.relative_to(assembly).as_posix()
        total.update(f"{relative}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return total.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ReleaseError(f"cannot read {path}: {error}") from error


def _artifacts(directory: Path) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """Every artifact (directory, id, artifact) of this assembly and of the nested (Stage) assemblies."""
    for artifact_id, artifact in _read_json(directory / "manifest.json").get("artifacts", {}).items():
        if artifact.get("type") == "cdk:cloud-assembly":
            yield from _artifacts(directory / artifact["properties"]["directoryName"])
        else:
            yield directory, artifact_id, artifact


def render(value: Any) -> str:
    """A template value as the text CloudFormation would make of it, as far as it can be known offline:
    joins are joined and AWS::URLSuffix is resolved; any other reference stays visible as ``${Name}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(part) for part in parts)
        if function == "Ref":
            return "amazonaws.com" if argument == "AWS::URLSuffix" else f"${{{argument}}}"
    return json.dumps(value, sort_keys=True)


def image_uris(template: dict[str, Any]) -> dict[str, str]:
    """ImageUri of every container-image Lambda function, by logical id, rendered."""
    return {
        logical_id: render(resource["Properties"].get("Code", {}).get("ImageUri"))
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Lambda::Function"
        and resource.get("Properties", {}).get("PackageType") == "Image"
    }


def problems(assembly: Path, images: Mapping[str, str]) -> list[str]:
    """Everything that stops the named stacks of the assembly from deploying exactly `images` ({stack name:
    image URI}); empty if none."""
    templates: dict[str, dict[str, Any]] = {}
    image_assets: list[str] = []
    for directory, artifact_id, artifact in _artifacts(assembly):
        properties = artifact.get("properties", {})
        if artifact.get("type") == "aws:cloudformation:stack":  # CDK writes no stackName equal to the id
            name = properties.get("stackName", artifact_id)
            templates[name] = _read_json(directory / properties["templateFile"])
        elif artifact.get("type") == "cdk:asset-manifest":
            assets = _read_json(directory / properties["file"]).get("dockerImages", {})
            image_assets += [f"{properties['file']}: {asset}" for asset in assets]
    found = []
    for name, image in images.items():
        if name not in templates:
            found.append(f"stack {name} is not in the assembly (stacks: {sorted(templates)})")
        elif not (uris := image_uris(templates[name])):
            found.append(f"stack {name} has no container-image Lambda function")
        else:
            found += [
                f"{name}/{logical_id} runs {uri}, not {image}"
                for logical_id, uri in uris.items()
                if uri != image
            ]
    return found + [f"container image asset {asset} would be built at deploy time" for asset in image_assets]


def verify(
    assembly: Path,
    accounts: Iterable[tuple[StageSettings, str]],
    digest: str,
    expected_fingerprint: str | None = None,
) -> str:
    """Checks that each stage, in its account, runs the digest from its own repository; raises
    :class:`ReleaseError` listing every problem, else prints what it checked and returns the fingerprint."""
    images = {stage.stack_name: stage_image(stage, account, f"@{digest}") for stage, account in accounts}
    actual = fingerprint(assembly)
    found = problems(assembly, images)
    if expected_fingerprint not in (None, actual):
        found.insert(0, f"fingerprint {actual} is not the synthesised assembly's {expected_fingerprint}")
    if found:
        raise ReleaseError("\n  ".join([f"{assembly} must not be deployed:", *found]))
    for stack, image in images.items():
        print(f"{assembly}: {stack} deploys {image}")
    print(f"fingerprint {actual}")
    return actual


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fingerprint", help="print it").add_argument("--assembly", type=Path, required=True)
    check = commands.add_parser("verify", help="check the assembly deploys exactly this image digest")
    check.add_argument("--assembly", type=Path, required=True)
    check.add_argument("--digest", type=parse_digest, required=True, help="the image this release built")
    check.add_argument(
        "--account", type=parse_stage_account, action="append", required=True, metavar="STAGE=ACCOUNT"
    )
    check.add_argument("--fingerprint", help="the fingerprint recorded when the assembly was synthesised")
    args = parser.parse_args(argv)
    if args.command == "fingerprint":
        print(fingerprint(args.assembly))
    else:
        verify(args.assembly, args.account, args.digest, args.fingerprint)


if __name__ == "__main__":
    run(main)
