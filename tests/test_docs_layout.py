"""The front door stays one: README.md under 12,000 bytes, `make run` and `make test` its first
commands, its layout block naming only what the repository holds (and every top-level folder
and app), every page of docs/ linked from it; and every setting tanka/settings.py reads listed
in .env.example and in docs/operations.md's configuration table."""

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SETTINGS = ROOT / "tanka" / "settings.py"
ENV_EXAMPLE = ROOT / ".env.example"
OPERATIONS = ROOT / "docs" / "operations.md"
README_MAX_BYTES = 12_000

SHELL_FENCES = {"sh", "bash", "shell", "console"}
# An inline code span that is a command someone would type.
COMMAND_SPAN = re.compile(
    r"^(make|python3?|\.venv/|pip|pytest|docker|curl|git|manage\.py|redis-cli|apt-get)\b"
)
# Fenced blocks and inline code spans, in the order they appear.
# (A span may wrap onto the next line, as Markdown allows.)
CODE = re.compile(r"^```(?P<lang>\w*)\n(?P<block>.*?)^```|`(?P<span>[^`]+)`", re.S | re.M)
# In a layout description: a file (a known extension) or a folder (a trailing slash), not a URL
# path (`/health`).
LAYOUT_NAME = re.compile(
    r"(?<![\w/.*-])([\w.*-]+(?:/[\w.*-]+)*(?:\.(?:py|md|txt|yml|conf|toml|lua|ini|json|html"
    r"|example)|/))(?=[\s,;:)]|$)"
)
SETTING = re.compile(r"^[A-Z][A-Z0-9_]*$")


def commands_in_order(text: str) -> list[str]:
    """Every command README shows, in reading order: lines of shell blocks (comments and
    continuations dropped) and inline spans that start with a command."""
    commands = []
    for match in CODE.finditer(text):
        if match["span"] is not None:
            span = " ".join(match["span"].split())
            if COMMAND_SPAN.match(span):
                commands.append(span)
        elif match["lang"] in SHELL_FENCES:
            for line in match["block"].splitlines():
                command = line.split("#", 1)[0].strip()
                if command and not line.startswith((" ", "\t")):
                    commands.append(command)
    return commands


def layout_block() -> str:
    text = README.read_text()
    section = text[text.index("\n## Layout") :]
    block = re.search(r"^```\w*\n(.*?)^```", section, re.S | re.M)
    assert block, "README's Layout section has no code block"
    return block[1]


def layout_entries() -> list[tuple[str, list[str]]]:
    """(path, names in its description) for each entry of the layout block. An entry is
    indented two spaces per level below the folder above it; a line indented further
    continues the previous entry's description."""
    entries: list[tuple[str, list[str]]] = []
    folders: list[str] = []
    for line in layout_block().splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent >= 10:
            entries[-1][1].extend(LAYOUT_NAME.findall(line))
            continue
        name, _, description = line.strip().partition(" ")
        del folders[indent // 2 :]
        path = "".join(folders) + name
        if name.endswith("/"):
            folders.append(name)
        entries.append((path, LAYOUT_NAME.findall(description)))
    return entries


@cache
def tracked_files() -> list[str]:
    """The repository's files (git's view, so a local `.venv` or `var/` never counts); the
    files on disk when this is not a git checkout."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    return [name for name in done.stdout.decode().split("\0") if name]


def in_repository(path: str) -> bool:
    """A tracked file, a folder holding one, or a glob matching one."""
    pattern = re.escape(path.rstrip("/")).replace(r"\*", "[^/]*")
    return any(re.fullmatch(rf"{pattern}(/.*)?", name) for name in tracked_files())


def resolve_description_name(entry: str, name: str) -> bool:
    """A name in an entry's description: from the root when it holds a slash inside, else in
    the entry's folder or one of its subfolders (`services.py` under `apps/`)."""
    if "/" in name.rstrip("/"):
        return in_repository(name)
    folder = entry if entry.endswith("/") else ""
    return in_repository(folder + name) or in_repository(f"{folder}*/{name}")


@cache
def settings_reads() -> frozenset[str]:
    """Every environment variable tanka/settings.py reads: the names its source passes to
    `env` (and `env_*` helpers, `os.environ`, `os.getenv`), in every branch, and the names it
    asks for when run with production settings on PostgreSQL without a pool (so a name built
    at run time counts too)."""
    return frozenset(_names_in_source() | _names_read_at_run_time())


def _names_in_source() -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        key = None
        if isinstance(node, ast.Call) and _reads_environment(node.func) and node.args:
            key = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def _is_os_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _reads_environment(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "env" or func.id.startswith("env_") or func.id == "getenv"
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id == "env":
            return True
        return func.attr == "getenv" or (func.attr == "get" and _is_os_environ(func.value))
    return False


# Records every os.environ lookup made while tanka/settings.py runs; .env is not read (its
# keys are not reads of the settings).
_RECORD = """
import json, os
import environ, django.core.exceptions
seen = set()
lookup = type(os.environ).__getitem__
def recording(self, key):
    seen.add(key)
    return lookup(self, key)
environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)
type(os.environ).__getitem__ = recording
import tanka.settings
type(os.environ).__getitem__ = lookup
print(json.dumps(sorted(seen)))
"""


@cache
def _names_read_at_run_time() -> frozenset[str]:
    with tempfile.TemporaryDirectory() as var_dir:
        done = _run_settings(var_dir)
    assert done.returncode == 0, done.stderr
    names = json.loads(done.stdout.splitlines()[-1])
    return frozenset(name for name in names if SETTING.match(name))


def _run_settings(var_dir: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "ENVIRONMENT": "production",
        "DEBUG": "false",
        "SECRET_KEY": "docs-layout-" + "s3cr3t-k3y-" * 6,
        "JWT_SECRET_KEY": "docs-layout-" + "jwt-k3y-" * 5,
        "ALLOWED_HOSTS": "api.example.com",
        "DATABASE_URL": "postgres://tanka:a-real-password@127.0.0.1:5432/tanka",
        "DATABASE_POOL_SIZE": "0",
        "VAR_DIR": var_dir,
    }
    return subprocess.run(
        [sys.executable, "-c", _RECORD], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def env_example_names() -> set[str]:
    """Names set in .env.example, commented out (`# NAME=default`) or not."""
    found = re.findall(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M)
    return set(found)


def operations_table_names() -> set[str]:
    """Names in the first column of docs/operations.md's Configuration tables."""
    text = OPERATIONS.read_text()
    start = text.index("\n## Configuration")
    end = text.find("\n## ", start + 1)
    names = set()
    for line in text[start : end if end > 0 else None].splitlines():
        if line.startswith("|"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_readme_is_under_12000_bytes():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes (at most {README_MAX_BYTES}): move the detail to docs/"
    )


def test_readme_shows_make_run_and_make_test_before_any_other_command():
    commands = commands_in_order(README.read_text())
    assert commands[:2] == ["make run", "make test"], commands[:5]


def test_the_readme_links_every_page_of_docs():
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)", README.read_text()))
    pages = {name for name in tracked_files() if re.fullmatch(r"docs/[^/]+\.md", name)}
    assert sorted(pages - linked) == [], "README's links leave these pages of docs/ out"


def test_every_path_in_the_readme_layout_exists():
    missing = [path for path, _ in layout_entries() if not in_repository(path)]
    missing += [
        f"{name} (in the description of {path})"
        for path, names in layout_entries()
        for name in names
        if not resolve_description_name(path, name)
    ]
    assert missing == [], f"README's layout names what the repository does not hold: {missing}"


def test_the_readme_layout_names_every_top_level_folder_and_app():
    named = {path.rstrip("/") for path, _ in layout_entries()}
    folders = {name.split("/")[0] for name in tracked_files() if "/" in name}
    apps = {"/".join(name.split("/")[:2]) for name in tracked_files() if name.count("/") >= 2}
    apps = {name for name in apps if name.startswith("apps/")}
    unnamed = sorted(
        folder
        for folder in folders | apps
        if not any(path == folder or path.startswith(folder + "/") for path in named)
    )
    assert unnamed == [], f"README's layout leaves out {unnamed}"


def test_the_settings_reads_are_found():
    # Not vacuous: the parser sees reads in both forms settings.py uses, and the run-time ones.
    assert {"SECRET_KEY", "DATABASE_URL", "RATE_LIMIT_PER_MINUTE"} <= settings_reads()
    assert {"SECURE_SSL_REDIRECT", "DATABASE_CONN_MAX_AGE"} <= _names_read_at_run_time()


def test_every_setting_is_in_env_example():
    missing = sorted(settings_reads() - env_example_names())
    assert missing == [], f".env.example lacks {missing}"


def test_env_example_names_only_settings_that_are_read():
    unknown = sorted(env_example_names() - settings_reads())
    assert unknown == [], f".env.example names settings tanka/settings.py never reads: {unknown}"


def test_every_setting_is_in_the_operations_table():
    missing = sorted(settings_reads() - operations_table_names())
    assert missing == [], f"docs/operations.md's configuration table lacks {missing}"
