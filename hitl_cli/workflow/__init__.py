"""The approval workflow: requests, the rules people's verdicts must follow, and what the store says now."""
