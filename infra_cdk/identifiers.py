"""The shapes of the names that enter from outside (settings, context keys, release arguments), checked
wherever they enter, at synthesis and in the release scripts: defined once here."""

from __future__ import annotations

import re
from typing import Final

ACCOUNT: Final = re.compile(r"^\d{12}$")
# Every partition's form: us-east-1, us-gov-west-1, ap-southeast-2, cn-north-1, us-isob-east-1.
REGION: Final = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
IMAGE_DIGEST: Final = re.compile(r"^sha256:[0-9a-f]{64}$")  # what ECR and Lambda pin an image by
# GitHub's "owner/name": owners are letters, digits and hyphens; repository names may add "_" and ".". The
# OIDC subject of repositories created or renamed from 15 July 2026 on names both with their immutable ids,
# "owner@<owner id>/name@<repository id>": the delivery roles must then trust that form (docs/deploy.md).
GITHUB_REPOSITORY: Final = re.compile(
    r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$|^[A-Za-z0-9-]+@\d+/[A-Za-z0-9._-]+@\d+$"
)
# `cdk bootstrap --qualifier`: at most 10 characters (role names stay under 64), lower case because the
# qualifier names the bootstrap bucket and image repository.
BOOTSTRAP_QUALIFIER: Final = re.compile(r"^[a-z0-9]{1,10}$")
# An IAM account root, role or user: who may be admitted on the protected routes.
PRINCIPAL_ARN: Final = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)/[\w+=,.@/-]+)$")
ALARM_SUBSCRIBER: Final = re.compile(r"^(?:[^@\s]+@[^@\s]+\.[^@\s]+|https://\S+)$")  # e-mail or https://
