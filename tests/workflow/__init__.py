"""Tests of the approval workflow (issue 3): the real CLI, a real OPA, a real SQLite store in a tmp dir."""
