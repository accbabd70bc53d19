"""Running the whole stack on one machine: for a person (`make run`, `make stack-prod`), the
system tests and the benchmark.

Development tooling, kept out of the product: the apps never import it and the image does
not ship it. Each module does one thing, once: `net` (ports, waiting), `processes` (a child
process and its log), `redis` and `postgres` (servers and databases of our own), `nginx` (the
load balancer's configuration), `topology` (the production shape without containers),
`localstack` (what `make run` supervises). `python -m devstack --help` runs the last two.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKER_DIR = ROOT / "docker"
MANAGE = [sys.executable, str(ROOT / "manage.py")]
# `python -m devstack`, from the project's root (the commands of devstack/__main__.py).
DEVSTACK = [sys.executable, "-m", "devstack"]
