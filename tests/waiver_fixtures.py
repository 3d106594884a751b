"""A waiver the shipped bank profile accepts, the moments it is in force and expired, and a profile holding given
waivers: for the waiver tests (test_waivers) and the Engine's (test_api)."""

from conftest import shipped_profile, write_yaml

NOW = "2026-12-15T12:00:00Z"  # within bank's waiver_policy.max_days of the waiver's expiry
AFTER_EXPIRY = "2027-01-01T00:00:00Z"
WAIVER = {
    "id": "WVR-2026-014",
    "agent": "trusted-*",
    "action_type": "write",
    "resource": "analytics.*",
    "environment": "production",
    "lower_to": "single_approval",
    "approved_by": "chief-risk-officer",
    "reason": "Quarter-end backfill, CHG-881",
    "expires": "2026-12-31T23:59:59Z",
}


def profile_with(tmp_path, waivers: list[dict], name: str = "bank", file: str = "waived.yaml"):
    profile = shipped_profile(name)
    profile["waivers"] = waivers
    return write_yaml(tmp_path / file, profile)
