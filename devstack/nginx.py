"""The load balancer's configuration: docker/nginx.conf is the one source, used as it is by
Docker and with its addresses filled in by the topology on one machine."""

import re
import shutil
from pathlib import Path

from devstack import DOCKER_DIR

# The lines of docker/nginx.conf that name the containers' addresses.
UPSTREAM_LINE = "server api:8000 max_fails=1 fail_timeout=5s;"
EVENTS_UPSTREAM_LINE = "server events:8000 max_fails=1 fail_timeout=5s;"
LISTEN_LINE = "listen 80;"
ACCESS_LOG_LINE = "access_log /var/log/nginx/access.log tanka;"
# The block naming the hops whose X-Forwarded-Proto nginx believes.
TRUSTED_HOPS_BLOCK = re.compile(
    r"(geo \$tanka_trusted_hop \{\n    default 0;\n)(.*?)(\})", re.DOTALL
)


class NginxConfigError(ValueError):
    """docker/nginx.conf lost a line the topology fills in."""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()),
        None,
    )


def nginx_site_config(
    *,
    listen: str,
    upstreams: list[str],
    events_upstream: str,
    access_log: Path,
    trusted_hops: list[str] | None = None,
    source: Path | None = None,
) -> str:
    """docker/nginx.conf with the upstream servers (the api processes, the event stream's
    server), the listen address and the access log replaced, and with `trusted_hops`
    (addresses or networks) as the hops whose X-Forwarded-Proto is believed, when given."""
    text = (source or DOCKER_DIR / "nginx.conf").read_text()
    for line in (UPSTREAM_LINE, EVENTS_UPSTREAM_LINE, LISTEN_LINE, ACCESS_LOG_LINE):
        if text.count(line) != 1:
            raise NginxConfigError(f"docker/nginx.conf must contain the line {line!r} exactly once")
    if trusted_hops is not None:
        if len(TRUSTED_HOPS_BLOCK.findall(text)) != 1:
            raise NginxConfigError(
                "docker/nginx.conf must have one `geo $tanka_trusted_hop` block starting with "
                "`default 0;`"
            )
        hops = "".join(f"    {hop} 1;\n" for hop in trusted_hops)
        text = TRUSTED_HOPS_BLOCK.sub(lambda m: m[1] + hops + m[3], text)
    servers = "\n    ".join(UPSTREAM_LINE.replace("api:8000", address) for address in upstreams)
    return (
        text.replace(UPSTREAM_LINE, servers)
        .replace(EVENTS_UPSTREAM_LINE, EVENTS_UPSTREAM_LINE.replace("events:8000", events_upstream))
        .replace(LISTEN_LINE, f"listen {listen};")
        .replace(ACCESS_LOG_LINE, f"access_log {access_log} tanka;")
    )


def nginx_main_config(prefix: Path, site: Path, worker_processes: str = "auto") -> str:
    """A whole nginx.conf that keeps its pid, logs and temp files under `prefix`."""
    temp = prefix / "temp"
    return f"""daemon off;
worker_processes {worker_processes};
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    include {site};
}}
"""


def write_nginx_config(
    prefix: Path,
    *,
    listen: str,
    upstreams: list[str],
    events_upstream: str,
    trusted_hops: list[str] | None = None,
) -> Path:
    """nginx's files for one run under `prefix`; the path of its main configuration."""
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "temp" / temp).mkdir(parents=True, exist_ok=True)
    site = prefix / "tanka.conf"
    site.write_text(
        nginx_site_config(
            listen=listen,
            upstreams=upstreams,
            events_upstream=events_upstream,
            access_log=prefix / "access.log",
            trusted_hops=trusted_hops,
        )
    )
    main = prefix / "nginx.conf"
    main.write_text(nginx_main_config(prefix, site))
    return main
