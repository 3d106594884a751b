"""A mixed, realistic, reproducible set of action manifests: agents' plans, as CI would check them.

Each plan (one file) holds 1-8 steps of one agent; most are YAML (one document per step), some JSON (one
object, or an array). Every optional field is written out, so the manifests on disk are exactly what hitl
sends to the policy: conftest and `opa eval` read the same input that hitl builds from them.
"""

import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from hitl_cli.statements import analysis_json

TYPE_WEIGHTS = {
    "read": 30, "catalog_update": 8, "documentation": 8, "test_generation": 6, "test_execution": 8, "write": 15,
    "schema_migration": 8, "delete": 5, "drop": 2, "grant_access": 3, "vacuum": 1,
}
ENVIRONMENT_WEIGHTS = {"dev": 40, "staging": 25, "production": 34, "sandbox": 1}
RESOURCE_TYPES = ["table", "column", "schema", "view", "pipeline", "dashboard", "catalog_entry", "document", "test"]
SCHEMAS = ["analytics", "finance", "marketing", "staging", "raw", "crm"]
TABLES = ["orders", "customers", "events", "invoices", "sessions", "payments", "campaigns", "accounts"]

STATEMENTS = {
    "read": ["SELECT count(*) FROM {t}", "SELECT * FROM {t} WHERE created_at > now() - interval '1 day' LIMIT 100"],
    "catalog_update": ["COMMENT ON TABLE {t} IS 'Owned by data platform'"],
    "documentation": [None],
    "test_generation": [None],
    "test_execution": ["dbt test --select {t}"],
    "write": [
        "INSERT INTO {t} SELECT * FROM {t}_staging",
        "UPDATE {t} SET status = 'closed' WHERE closed_at IS NOT NULL",
        "MERGE INTO {t} USING {t}_delta ON {t}.id = {t}_delta.id WHEN MATCHED THEN UPDATE SET amount = {t}_delta.amount",
        # A write whose second statement deletes: the policy treats it as a delete.
        "INSERT INTO {t}_archive SELECT * FROM {t}; delete from {t} where archived",
    ],
    "schema_migration": ["ALTER TABLE {t} ADD COLUMN note VARCHAR", "ALTER TABLE {t} DROP COLUMN legacy_flag"],
    "delete": ["DELETE FROM {t} WHERE created_at < '2020-01-01'", "TRUNCATE TABLE {t}"],
    "drop": ["DROP TABLE {t}", "DROP VIEW IF EXISTS {t}_v"],
    "grant_access": ["GRANT SELECT ON {t} TO ROLE analyst"],
    "vacuum": ["VACUUM {t}"],
}


@dataclass(frozen=True)
class GeneratedSet:
    folder: Path
    manifests: int
    files: int
    track_record: Path
    batch_input: Path  # every manifest in one policy input document, for `opa eval`


def track_record(agents: list[str], rng: random.Random) -> dict:
    """Most agents are measured (some trusted, some demoted by their numbers); the last few are new."""
    record = {}
    for name in agents[: len(agents) * 3 // 4]:
        level = rng.choice(["suggestion", "low", "medium", "medium"])
        reviewed = rng.choice([10, 60, 150, 250, 900])
        approved = min(reviewed, round(reviewed * rng.uniform(0.9, 1.0)))
        record[name] = {"level": level, "reviewed": reviewed, "approved": approved, "rejected": reviewed - approved}
    return {"agents": record}


def manifest(identifier: str, agent: str, rng: random.Random) -> dict:
    action_type = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
    environment = rng.choices(list(ENVIRONMENT_WEIGHTS), weights=list(ENVIRONMENT_WEIGHTS.values()))[0]
    table = f"{rng.choice(SCHEMAS)}.{rng.choice(TABLES)}"
    template = rng.choice(STATEMENTS[action_type])
    pii = rng.random() < 0.1
    return {
        "apiVersion": "hitl/v1",
        "kind": "ActionManifest",
        "metadata": {"id": identifier, "created": None},
        "agent": {"id": agent},
        "action": {
            "type": action_type,
            "summary": f"{action_type.replace('_', ' ')} on {table} in {environment}",
            "statement": template.format(t=table) if template else None,
            "confidence": None if rng.random() < 0.05 else round(rng.uniform(0.7, 1.0), 3),
            "reversible": rng.random() < 0.6,
            "novel": rng.random() < 0.02,
        },
        "target": {
            "environment": environment,
            "system": rng.choice(["snowflake", "postgres", "bigquery"]),
            "resource": table,
            "resource_type": rng.choice(RESOURCE_TYPES),
        },
        "impact": {
            "pii": pii,
            "exposes_pii": pii and rng.random() < 0.1,
            "rows_affected": rng.choice([0, 10, 5000, 182000]),
            "estimated_cost_usd": round(rng.lognormvariate(0.5, 1.6), 2),
        },
        "context": {
            "why": f"Requested by the {rng.choice(['finance', 'growth', 'platform'])} team",
            "read": [f"information_schema.columns for {table}"],
            "risks": ["Downstream consumers may see changed rows"],
            "plan": "Run, verify row counts, report",
            "rollback": f"Restore {table} from the last snapshot",
        },
    }


def write_plan(path: Path, steps: list[dict], rng: random.Random) -> Path:
    if rng.random() < 0.3:
        path = path.with_suffix(".json")
        path.write_text(json.dumps(steps if len(steps) > 1 or rng.random() < 0.5 else steps[0], indent=1))
    else:
        path.write_text(yaml.dump_all(steps, Dumper=yaml.CSafeDumper, sort_keys=False))
    return path


def generate(folder: Path, count: int, profile: str, seed: int = 42) -> GeneratedSet:
    """Write `count` manifests under folder/manifests, a track record, and the single batch input for OPA."""
    rng = random.Random(seed)
    plans = folder / "manifests"
    plans.mkdir(parents=True, exist_ok=True)
    agents = [f"{kind}-agent-{n}" for kind in ("schema", "pipeline", "catalog", "quality", "access") for n in range(8)]
    record = track_record(agents, rng)
    everything: list[dict] = []
    files = 0
    while len(everything) < count:
        agent = rng.choice(agents)
        steps = [manifest(f"plan-{files}-step-{s}", agent, rng) for s in range(min(rng.randint(1, 8), count - len(everything)))]
        shard = plans / f"{files // 1000:03d}"
        shard.mkdir(exist_ok=True)
        write_plan(shard / f"plan-{files:06d}.yaml", steps, rng)
        everything.extend(steps)
        files += 1
    record_path = folder / "track-record.json"
    record_path.write_text(json.dumps(record))
    batch = folder / "batch-input.json"
    # What hitl derives from each statement and sends beside it: `opa eval` and conftest get it ready-made.
    facts = [json.loads(analysis_json(m["action"]["statement"], m["target"]["system"])) for m in everything]
    batch.write_text(json.dumps({"profile": profile, "track_record": record, "manifests": everything, "statement_facts": facts}))
    (folder / "set.json").write_text(json.dumps({"manifests": len(everything), "files": files}))
    return existing(folder)


def existing(folder: Path) -> GeneratedSet:
    """A set generate() wrote earlier."""
    counts = json.loads((folder / "set.json").read_text())
    return GeneratedSet(
        folder / "manifests", counts["manifests"], counts["files"], folder / "track-record.json", folder / "batch-input.json"
    )
