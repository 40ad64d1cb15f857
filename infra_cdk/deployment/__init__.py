"""Safe deployment: the CodeDeploy infrastructure (infrastructure.py) and its pre-traffic hook's runtime
(pre_traffic_hook/), kept side by side because one is meaningless without the other."""

from infra_cdk.deployment.infrastructure import SafeDeployment

__all__ = ["SafeDeployment"]
