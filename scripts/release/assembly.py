"""Proves that a synthesised cloud assembly is the one this release deploys, before each deployment.

A release synthesises once; Staging and Production are deployed from that same `cdk.out`. This script
gives the assembly an identity and checks what it would deploy:

- ``fingerprint``: a SHA-256 over every file's relative path and contents. The synth job records it; each
  deploy job recomputes it on the downloaded artifact and refuses to deploy anything else.
- ``verify``: every container-image Lambda function of each named stage runs exactly
  ``<account>.dkr.ecr.<region>.amazonaws.com/<that stage's bootstrap container-assets repository>@<digest>``
  in that stage's account and region, and the assembly holds no container image *asset* (nothing can be
  rebuilt or re-pushed at deploy time: the tested image is the deployed image).

    python -m scripts.release.assembly fingerprint --assembly cdk.out
    python -m scripts.release.assembly verify --assembly cdk.out --digest sha256:... \\
        --account Staging=111111111111 [--account Production=222222222222] [--fingerprint ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra_cdk.settings import ACCOUNT, IMAGE_DIGEST, SettingsError, stage_named
from scripts.release.push_image import PushError, registry

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


def stage_accounts(pairs: Sequence[str]) -> dict[str, str]:
    """``["Staging=111111111111", ...]`` (one per GitHub repository variable) as {stage name: account}."""
    accounts: dict[str, str] = {}
    for pair in pairs:
        name, _, account = pair.partition("=")
        try:
            stage_named(name)
        except SettingsError as error:
            raise AssemblyError(f"--account {pair!r}: {error}") from error
        if not ACCOUNT.match(account):
            raise AssemblyError(f"--account {pair!r}: the account must be 12 digits (is its variable set?)")
        accounts[name] = account
    return accounts


def expected_images(accounts: Mapping[str, str], digest: str) -> dict[str, str]:
    """{stack name: the one image URI it may run}: the digest, from its stage's repository and account."""
    if not IMAGE_DIGEST.match(digest):
        raise AssemblyError(f"digest {digest!r} must look like sha256:<64 hex digits>")
    images = {}
    for name, account in accounts.items():
        settings = stage_named(name)
        try:
            host = registry(account, settings.region)
        except PushError as error:
            raise AssemblyError(str(error)) from error
        images[settings.stack_name] = f"{host}/{settings.container_assets_repository(account)}@{digest}"
    return images


def problems(assembly: Assembly, images: Mapping[str, str]) -> list[str]:
    """Everything that stops the named stacks of this assembly from deploying exactly `images` ({stack name:
    image}); empty if none."""
    found: list[str] = []
    by_name = {stack.name: stack for stack in assembly.stacks}
    for name in images:
        if name not in by_name:
            found.append(f"stack {name} is not in the assembly (stacks: {sorted(by_name)})")
        elif not image_uris(by_name[name].template):
            found.append(f"stack {name} has no container-image Lambda function")
    for stack in assembly.stacks:
        for logical_id, uri in image_uris(stack.template).items() if stack.name in images else ():
            if uri != images[stack.name]:
                found.append(f"{stack.name}/{logical_id} runs {uri}, not {images[stack.name]}")
    found += [
        f"container image asset {asset} would be built at deploy time"
        for asset in assembly.container_image_assets
    ]
    return found


def verify(assembly_dir: Path, images: Mapping[str, str], expected_fingerprint: str | None = None) -> str:
    """Raises :class:`AssemblyError` listing every problem; returns the assembly's fingerprint."""
    actual = fingerprint(assembly_dir)
    found = problems(read_assembly(assembly_dir), images)
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
    check.add_argument("--digest", required=True, help="the image digest built by this release")
    check.add_argument(
        "--account", action="append", required=True, help="STAGE=ACCOUNT: a stage to check, in its account"
    )
    check.add_argument("--fingerprint", help="the fingerprint recorded when the assembly was synthesised")
    args = parser.parse_args(argv)
    try:
        if args.command == "fingerprint":
            print(fingerprint(args.assembly))
        else:
            images = expected_images(stage_accounts(args.account), args.digest)
            identity = verify(args.assembly, images, args.fingerprint)
            for stack, image in images.items():
                print(f"{args.assembly}: {stack} deploys {image}")
            print(f"fingerprint {identity}")
    except AssemblyError as error:
        print(f"release_assembly: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
