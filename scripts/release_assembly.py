"""Proves that a synthesised cloud assembly is the one this release deploys, before each deployment.

A release synthesises once; Staging and Production are deployed from that same `cdk.out`. This script
gives the assembly an identity and checks what it would deploy:

- ``fingerprint``: a SHA-256 over every file's relative path and contents. The synth job records it; each
  deploy job recomputes it on the downloaded artifact and refuses to deploy anything else.
- ``verify``: every container-image Lambda function in the Staging and Production stacks runs exactly
  ``<account>.dkr.ecr.<region>.amazonaws.com/<bootstrap container-assets repository>@<digest>``, and the
  assembly holds no container image *asset* (nothing can be rebuilt or re-pushed at deploy time: the
  tested image is the deployed image).

    python -m scripts.release_assembly fingerprint --assembly cdk.out
    python -m scripts.release_assembly verify --assembly cdk.out --digest sha256:... \\
        --account 123456789012 --region eu-west-1 [--fingerprint ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra_cdk.settings import CDK_BOOTSTRAP_QUALIFIER, IMAGE_DIGEST, STAGES
from scripts.release_push_image import PushError, container_assets_repository, registry

STAGE_STACKS: Final = tuple(stage.stack_name for stage in STAGES)
_STACK: Final = "aws:cloudformation:stack"
_NESTED_ASSEMBLY: Final = "cdk:cloud-assembly"
_ASSET_MANIFEST: Final = "cdk:asset-manifest"


class AssemblyError(ValueError):
    """The assembly is unreadable, or is not what this release must deploy."""


@dataclass(frozen=True, slots=True)
class Stack:
    name: str  # the CloudFormation stack name, e.g. Staging-Service
    template: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Assembly:
    stacks: tuple[Stack, ...]
    container_image_assets: tuple[str, ...]  # "<asset manifest>: <asset id>"


def fingerprint(assembly: Path) -> str:
    """SHA-256 over (relative path, SHA-256 of contents) of every file, in path order."""
    if not (assembly / "manifest.json").is_file():
        raise AssemblyError(f"{assembly} is not a cloud assembly (no manifest.json)")
    total = hashlib.sha256()
    for path in sorted(p for p in assembly.rglob("*") if p.is_file()):
        relative = path.relative_to(assembly).as_posix()
        total.update(f"{relative}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return total.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise AssemblyError(f"cannot read {path}: {error}") from error


def _artifacts(directory: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every artifact of this assembly and of the nested (Stage) assemblies it contains."""
    manifest = _read_json(directory / "manifest.json")
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") == _NESTED_ASSEMBLY:
            yield from _artifacts(directory / artifact["properties"]["directoryName"])
        else:
            yield directory, artifact


def read_assembly(assembly: Path) -> Assembly:
    stacks: list[Stack] = []
    image_assets: list[str] = []
    for directory, artifact in _artifacts(assembly):
        properties = artifact.get("properties", {})
        if artifact.get("type") == _STACK:
            name = properties.get("stackName") or artifact.get("displayName", "?")
            stacks.append(Stack(name=name, template=_read_json(directory / properties["templateFile"])))
        elif artifact.get("type") == _ASSET_MANIFEST:
            assets = _read_json(directory / properties["file"])
            image_assets += [f"{properties['file']}: {asset}" for asset in assets.get("dockerImages", {})]
    return Assembly(stacks=tuple(stacks), container_image_assets=tuple(image_assets))


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
        if function == "Fn::Sub" and isinstance(argument, str):
            return argument.replace("${AWS::URLSuffix}", "amazonaws.com")
    return json.dumps(value, sort_keys=True)


def image_uris(template: dict[str, Any]) -> dict[str, str]:
    """ImageUri of every container-image Lambda function, by logical id, rendered."""
    return {
        logical_id: render(resource["Properties"].get("Code", {}).get("ImageUri"))
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Lambda::Function"
        and resource.get("Properties", {}).get("PackageType") == "Image"
    }


def expected_image(
    *, account: str, region: str, digest: str, qualifier: str = CDK_BOOTSTRAP_QUALIFIER
) -> str:
    """The one image URI this release may deploy."""
    if not IMAGE_DIGEST.match(digest):
        raise AssemblyError(f"digest {digest!r} must look like sha256:<64 hex digits>")
    try:
        repository = container_assets_repository(account, region, qualifier)
    except PushError as error:
        raise AssemblyError(str(error)) from error
    return f"{registry(account, region)}/{repository}@{digest}"


def problems(assembly: Assembly, image: str, stage_stacks: tuple[str, ...] = STAGE_STACKS) -> list[str]:
    """Everything that stops this assembly from deploying exactly `image`; empty if none."""
    found: list[str] = []
    by_name = {stack.name: stack for stack in assembly.stacks}
    for name in stage_stacks:
        if name not in by_name:
            found.append(f"stack {name} is not in the assembly (stacks: {sorted(by_name)})")
        elif not image_uris(by_name[name].template):
            found.append(f"stack {name} has no container-image Lambda function")
    for stack in assembly.stacks:
        for logical_id, uri in image_uris(stack.template).items():
            if uri != image:
                found.append(f"{stack.name}/{logical_id} runs {uri}, not {image}")
    found += [
        f"container image asset {asset} would be built at deploy time"
        for asset in assembly.container_image_assets
    ]
    return found


def verify(assembly_dir: Path, image: str, expected_fingerprint: str | None = None) -> str:
    """Raises :class:`AssemblyError` listing every problem; returns the assembly's fingerprint."""
    actual = fingerprint(assembly_dir)
    found = problems(read_assembly(assembly_dir), image)
    if expected_fingerprint is not None and actual != expected_fingerprint:
        found.insert(0, f"fingerprint {actual} is not the synthesised assembly's {expected_fingerprint}")
    if found:
        raise AssemblyError("\n  ".join([f"{assembly_dir} must not be deployed:", *found]))
    return actual


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("fingerprint", help="print the assembly's fingerprint")
    show.add_argument("--assembly", type=Path, required=True)
    check = commands.add_parser("verify", help="check the assembly deploys exactly this image digest")
    check.add_argument("--assembly", type=Path, required=True)
    check.add_argument("--digest", required=True, help="the image digest pushed by this release")
    check.add_argument("--account", required=True, help="AWS account id (12 digits)")
    check.add_argument("--region", required=True, help="AWS region, e.g. eu-west-1")
    check.add_argument("--qualifier", default=CDK_BOOTSTRAP_QUALIFIER, help="CDK bootstrap qualifier")
    check.add_argument("--fingerprint", help="the fingerprint recorded when the assembly was synthesised")
    args = parser.parse_args(argv)
    try:
        if args.command == "fingerprint":
            print(fingerprint(args.assembly))
        else:
            image = expected_image(
                account=args.account, region=args.region, digest=args.digest, qualifier=args.qualifier
            )
            identity = verify(args.assembly, image, args.fingerprint)
            print(f"{args.assembly} deploys {image}: fingerprint {identity}")
    except AssemblyError as error:
        print(f"release_assembly: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
