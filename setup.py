"""The package list only: everything else is in pyproject.toml.

pyproject.toml cannot both discover hitl_cli's subpackages and add the two folders it maps into the package
(rego/ as hitl_cli.policies, org_profiles/ as hitl_cli.profiles), so the list is built here. The policy
folders below rego/ are listed too, as the data-only packages they become in the wheel.
"""

from setuptools import find_namespace_packages, setup

policies = ["hitl_cli.policies", *(f"hitl_cli.policies.{folder}" for folder in find_namespace_packages("rego"))]
setup(packages=[*find_namespace_packages(include=["hitl_cli*"]), *policies, "hitl_cli.profiles"])
