"""What a run is given is bounded before it is built: memory, documents, problems, the kind of file, settings.

Each case runs the real CLI in its own process (and a real OPA where something valid is decided).
"""

import json
import os
import socket
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, hitl, make_manifest, write_manifests

pytestmark = pytest.mark.attack  # each test tries a way past the gate (make bench counts them)

MAX_INPUT_RSS_KB = 512 * 1024
VALID = make_manifest(id="valid-neighbour", type="read")


def peak_rss_kb(*args: str) -> tuple[int, subprocess.CompletedProcess]:
    """The CLI run from a fresh Python whose only child it is, so RUSAGE_CHILDREN is that run's peak alone."""
    measure = (
        "import resource, subprocess, sys, json\n"
        "done = subprocess.run([sys.executable, '-m', 'hitl_cli', *sys.argv[1:]], capture_output=True, text=True)\n"
        "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode, done.stdout, done.stderr]))\n"
    )
    result = subprocess.run([sys.executable, "-c", measure, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)
    peak, code, stdout, stderr = json.loads(result.stdout)
    return peak, subprocess.CompletedProcess(args, code, stdout, stderr)


@pytest.mark.parametrize("format", ["text", "json"])
def test_a_12_mb_array_of_empty_objects_stays_within_memory_and_prints_a_few_lines(tmp_path, format):
    huge = tmp_path / "huge.json"
    huge.write_text("[" + ",".join(["{}"] * 4_000_000) + "]")
    assert huge.stat().st_size > 12_000_000
    peak, result = peak_rss_kb("check", str(huge), "--profile", "default", "--format", format)
    assert result.returncode == 4, result.stderr
    assert peak < MAX_INPUT_RSS_KB, f"peak RSS {peak} KB"
    assert len((result.stdout + result.stderr).splitlines()) < 20
    assert f"{huge}: (document): holds more than" in result.stderr


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("many-documents.yaml", "---\n{}\n" * 3_000_000),
        ("many-values.yaml", "- {}\n" * 3_000_000),
        ("nested-lists.json", '{"context": [' + ",".join(["[]"] * 10_000_000) + "]}"),
        ("brackets-in-a-string.json", '{"a": "' + "[{" * 12_000_000 + '"}'),
    ],
)
def test_any_file_within_the_size_limit_stays_within_memory(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    assert path.stat().st_size <= 32 * 1024 * 1024
    peak, result = peak_rss_kb("check", str(path), "--profile", "default")
    assert result.returncode == 4, result.stderr
    assert peak < MAX_INPUT_RSS_KB, f"peak RSS {peak} KB"
    assert len(result.stderr.splitlines()) <= 2, result.stderr


@pytest.mark.parametrize("as_json", [True, False])
def test_documents_per_file_are_bounded_and_the_file_is_refused_whole(opa_bin, tmp_path, as_json):
    many = [make_manifest(id=f"m-{n}", type="read") for n in range(4)]
    path = tmp_path / ("many.json" if as_json else "many.yaml")
    path.write_text(json.dumps(many) if as_json else yaml.safe_dump_all(many))
    write_manifests(tmp_path, [VALID], "valid.yaml")
    result = hitl("check", path, tmp_path / "valid.yaml", "--profile", "default", "--format", "json",
                  env={"HITL_MAX_DOCUMENTS_PER_FILE": "3"})
    assert result.returncode == 4, result.stderr
    assert "holds more than 3 documents (HITL_MAX_DOCUMENTS_PER_FILE)" in result.stderr
    assert [d["id"] for d in json.loads(result.stdout)] == ["valid-neighbour"]


def test_problems_per_file_are_bounded_and_the_rest_counted(opa_bin, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps([1] * 30))  # one problem each: not a mapping
    result = hitl("check", path, "--profile", "default", env={"HITL_MAX_PROBLEMS_PER_FILE": "5"})
    assert result.returncode == 4, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 6, lines
    assert lines[-1].endswith("... and 25 more problems (HITL_MAX_PROBLEMS_PER_FILE)")


def _fifo(folder):
    path = folder / "plan.yaml"
    os.mkfifo(path)
    return path


def _socket(folder):
    path = folder / "plan.json"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    return path


@pytest.mark.parametrize(
    ("make", "kind"),
    [(_fifo, "a FIFO"), (_socket, "a socket"), (lambda folder: "/dev/null", "a character device")],
)
def test_anything_but_a_regular_file_is_refused_without_reading_it(opa_bin, tmp_path, make, kind):
    special = make(tmp_path)
    write_manifests(tmp_path, [VALID], "valid.yaml")
    # A FIFO with no writer would block a plain open() forever; the timeout turns a hang into a failure.
    result = hitl("check", special, tmp_path / "valid.yaml", "--profile", "default", "--format", "json", timeout=60)
    assert result.returncode == 4, result.stderr
    assert f"{special}: (document): not a regular file ({kind}): not read" in result.stderr
    assert [d["id"] for d in json.loads(result.stdout)] == ["valid-neighbour"]


def test_suffixes_are_read_whatever_their_case(opa_bin, tmp_path):
    write_manifests(tmp_path, [make_manifest(id="upper-yaml", type="read")], "a.YAML")
    write_manifests(tmp_path, [make_manifest(id="mixed-yml", type="read")], "b.Yml")
    (tmp_path / "c.JSON").write_text(json.dumps(make_manifest(id="upper-json", type="read")))
    result = hitl("evaluate", tmp_path, "--profile", "default", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [d["id"] for d in json.loads(result.stdout)] == ["upper-yaml", "mixed-yml", "upper-json"]


@pytest.mark.parametrize("command", ["check", "evaluate"])
@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "no manifest files here (.yaml, .yml or .json)"),
        ({"README.txt": "not a manifest"}, "no manifest files here (.yaml, .yml or .json)"),
        ({"empty.yaml": ""}, "holds no action manifest"),
        ({"comments.yml": "# nothing\n---\n# still nothing\n"}, "holds no action manifest"),
    ],
)
def test_no_manifests_at_all_is_invalid_input_never_success(tmp_path, command, layout, message):
    folder = tmp_path / "plans"
    folder.mkdir()
    for name, text in layout.items():
        (folder / name).write_text(text)
    result = hitl(command, folder, "--profile", "default")
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip() == f"{folder}: (document): {message}"


NUMERIC_SETTINGS = [
    "HITL_OPA_TIMEOUT", "HITL_OPA_START_TIMEOUT", "HITL_OPA_BATCH_SIZE", "HITL_OPA_REQUESTS", "HITL_MAX_FILE_BYTES",
    "HITL_MAX_NESTING_DEPTH", "HITL_MAX_EXPANDED_NODES", "HITL_MAX_DOCUMENTS_PER_FILE", "HITL_MAX_VALUES_PER_FILE",
    "HITL_MAX_PROBLEMS_PER_FILE",
]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "0", "-1", "NaN"])
@pytest.mark.parametrize("variable", NUMERIC_SETTINGS)
def test_a_numeric_setting_that_is_not_a_positive_finite_number_is_a_usage_error(tmp_path, variable, value):
    write_manifests(tmp_path, [VALID], "valid.yaml")
    result = hitl("check", tmp_path / "valid.yaml", "--profile", "default", env={variable: value})
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"{variable}={value!r}: expected a positive" in result.stderr
