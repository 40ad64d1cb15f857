"""Safe deployment: the CodeDeploy infrastructure (infrastructure.py), the known answers it checks
(checks.py) and the pre-traffic hook's runtime (pre_traffic_hook/), side by side because each is
meaningless without the others. Nothing is imported here: the hook and its checks load without CDK."""
