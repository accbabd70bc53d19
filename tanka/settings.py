"""Tanka Core API settings: one module, every value from the environment.

A `.env` file beside `manage.py` is read when present. A bad value stops start-up with a
message naming the variable (django-environ raises ImproperlyConfigured), and production
refuses the development secrets.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from tanka.names import QUEUES

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """`name` from the environment, one of `choices`; else start-up stops, naming it."""
    value = env.str(name, default=default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_number(name: str, default: float, *, minimum: float, cast: type = int) -> float:
    """`name` from the environment as a number of at least `minimum`; else start-up stops,
    naming it."""
    value = env.float(name, default=default) if cast is float else env.int(name, default=default)
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


# Local state: the SQLite file, the embedded Redis data, collected static files.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

API_VERSION = "1.0.0"

ENVIRONMENT = env_choice("ENVIRONMENT", ("development", "staging", "production"), "development")
IS_PRODUCTION = ENVIRONMENT == "production"
DEBUG = env.bool("DEBUG", default=ENVIRONMENT == "development")

_DEV_SECRET_KEY = "dev-only-secret-key-never-use-in-production-0123456789abcdef"
_DEV_JWT_SECRET_KEY = "dev-only-jwt-secret-key-never-use-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
JWT_SECRET_KEY = env.str("JWT_SECRET_KEY", default=_DEV_JWT_SECRET_KEY)


def _require_strong_secret(name: str, value: str, dev_default: str, min_length: int) -> None:
    """Stop a production start-up on a missing, development or short secret."""
    if value == dev_default or not value:
        raise ImproperlyConfigured(f"{name} must be set in production")
    if len(value) < min_length or len(set(value)) < 5:
        raise ImproperlyConfigured(
            f"{name} is too weak: use at least {min_length} random characters"
        )


if IS_PRODUCTION:
    _require_strong_secret("SECRET_KEY", SECRET_KEY, _DEV_SECRET_KEY, 50)
    _require_strong_secret("JWT_SECRET_KEY", JWT_SECRET_KEY, _DEV_JWT_SECRET_KEY, 32)
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be false in production")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=[] if IS_PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
if IS_PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "apps.core",
    "apps.users",
    "apps.health",
    "apps.jobs",
    "apps.memories",
    "apps.events",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "apps.core.middleware.BodySizeLimitMiddleware",
    "apps.core.middleware.QueryStringMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.throttles.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "tanka.urls"
WSGI_APPLICATION = "tanka.wsgi.application"
ASGI_APPLICATION = "tanka.asgi.application"
# Every route matches with and without its trailing slash, so nothing redirects.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.environment",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------

DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=0)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tanka.sqlite3'}")
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker write to one file: WAL lets readers run beside a
    # writer, IMMEDIATE takes the write lock up front (no deadlocked upgrades), and the
    # busy timeout makes a second writer wait instead of failing with "database is locked".
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, whose pool drops connections the server closed (apps/core/postgresql).
    _db["ENGINE"] = "apps.core.postgresql"
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].setdefault("connect_timeout", 5)
    # The statements apps/core/db.py builds once are prepared on first use, per connection
    # (apps/core/postgresql); the ORM's own never are. Off for a pooler that cannot keep
    # prepared statements (PgBouncer in transaction mode before 1.21).
    _db["OPTIONS"].setdefault(
        "prepare_threshold", 0 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
    )
    # A pool pays where threads share connections: the api server (docker/serve.py) asks
    # for one. A psycopg pool holds threads and sockets that must never cross a fork, so
    # other processes (the RQ worker forks its scheduler) keep one persistent connection.
    if DATABASE_POOL_SIZE > 0:
        _db["CONN_MAX_AGE"] = 0
        _db["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": 5,
        }
    else:
        _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        _db["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"

# --- Redis: RQ queues on one db, the cache on another (cache.clear() is FLUSHDB) -------------

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_QUEUE_DB = env.int("REDIS_QUEUE_DB", default=0)
REDIS_CACHE_DB = env.int("REDIS_CACHE_DB", default=1)
# A Redis that hangs costs a request at most one timeout: after a timeout the rest of the
# request, and every request of the process for REDIS_RETRY_AFTER seconds, skip Redis
# (apps/core/redis_clients.py).
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
REDIS_RETRY_AFTER = env.float("REDIS_RETRY_AFTER", default=2.0)


def redis_url_for_db(url: str, db: int) -> str:
    """Return `url` pointing at database `db`, whatever database it named."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("db="))
        return f"unix://{parts.path}?{'&'.join(filter(None, [query, f'db={db}']))}"
    return urlunsplit(parts._replace(path=f"/{db}"))


# The password docker/*.env.example ship with: production refuses to start with it.
_EXAMPLE_PASSWORD = "change-me"
if IS_PRODUCTION:
    _passwords = {
        "DATABASE_URL": urlsplit(env.str("DATABASE_URL", default="")).password,
        "REDIS_URL": urlsplit(REDIS_URL).password,
        "POSTGRES_PASSWORD": env.str("POSTGRES_PASSWORD", default=""),
    }
    for _name, _password in _passwords.items():
        if _password == _EXAMPLE_PASSWORD:
            raise ImproperlyConfigured(
                f"{_name} has the example password {_EXAMPLE_PASSWORD!r}: set a real one"
            )

REDIS_QUEUE_URL = redis_url_for_db(REDIS_URL, REDIS_QUEUE_DB)
REDIS_CACHE_URL = redis_url_for_db(REDIS_URL, REDIS_CACHE_DB)

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": "tanka",
        "TIMEOUT": env.int("CACHE_TTL", default=300),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "CONNECTION_POOL_CLASS": "apps.core.redis_clients.GuardedConnectionPool",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            # An outage is a logged miss, never an error.
            "IGNORE_EXCEPTIONS": True,
            "LOG_IGNORED_EXCEPTIONS": True,
        },
    }
}
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "tanka.cache"

# The time limit of a task that sets none (`@task(timeout=...)`), in seconds.
RQ_DEFAULT_TIMEOUT = env.int("RQ_DEFAULT_TIMEOUT", default=300)
_rq_queue = {
    "URL": REDIS_QUEUE_URL,
    "DEFAULT_TIMEOUT": RQ_DEFAULT_TIMEOUT,
    "REDIS_CLIENT_KWARGS": {"socket_connect_timeout": 2, "health_check_interval": 30},
}
RQ_QUEUES = {name: dict(_rq_queue) for name in QUEUES}
RQ_SHOW_ADMIN_LINK = True
RQ = {"WORKER_CLASS": "apps.jobs.worker.TankaWorker", "QUEUE_CLASS": "apps.jobs.worker.TankaQueue"}
# An idle worker heartbeats every RQ_WORKER_TTL - 15 s; /health counts a worker as gone when
# its last heartbeat is older than RQ_WORKER_HEARTBEAT_WINDOW.
RQ_WORKER_TTL = env.int("RQ_WORKER_TTL", default=30)
RQ_WORKER_HEARTBEAT_WINDOW = env.int("RQ_WORKER_HEARTBEAT_WINDOW", default=RQ_WORKER_TTL + 15)
# The live event stream (apps.events): a comment line this often keeps proxies from closing
# an idle stream (docs/events.md).
EVENTS_PING_SECONDS = env_number("EVENTS_PING_SECONDS", 15.0, minimum=0.1, cast=float)
# The task engine (apps.jobs): a job whose worker died (killed, lost) is failed or retried
# within this many seconds of the death, whatever the job's own time limit. Worker heartbeats,
# the death verdict and the reconciliation period are derived from it (apps/jobs/reconcile.py).
JOBS_WORKER_LOST_AFTER = env_number("JOBS_WORKER_LOST_AFTER", 180, minimum=6)
# A task still running this many seconds past its timeout (stuck where RQ's SIGALRM cannot
# reach it) has its attempt recorded, and its worker exits for a fresh one.
JOBS_HARD_LIMIT_GRACE = env.int("JOBS_HARD_LIMIT_GRACE", default=60)
# Finished jobs are deleted after this many days (0 keeps them), per status if set
# (apps/jobs/services.py, `jobs_purge`, run hourly by the `purge_jobs` schedule).
JOBS_KEEP_DAYS = env.int("JOBS_KEEP_DAYS", default=30)
JOBS_KEEP_COMPLETED_DAYS = env.int("JOBS_KEEP_COMPLETED_DAYS", default=JOBS_KEEP_DAYS)
JOBS_KEEP_FAILED_DAYS = env.int("JOBS_KEEP_FAILED_DAYS", default=JOBS_KEEP_DAYS)
JOBS_KEEP_CANCELLED_DAYS = env.int("JOBS_KEEP_CANCELLED_DAYS", default=JOBS_KEEP_DAYS)
# Jobs a user may have scheduled, pending or running through the API at once (0: no cap).
JOBS_MAX_ACTIVE_PER_USER = env.int("JOBS_MAX_ACTIVE_PER_USER", default=20)
# Addresses (or networks, CIDR) that may read /metrics without a staff session.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

# --- Auth -----------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Every password login is counted against the login limits before its password is checked.
AUTHENTICATION_BACKENDS = ["apps.users.backends.RateLimitedModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

# Bearer tokens are signed with JWT_SECRET_KEY, never SECRET_KEY, so rotating one leaves the
# other's sessions or tokens alone.
# HMAC only: tokens are signed with JWT_SECRET_KEY.
JWT_ALGORITHM = env_choice("JWT_ALGORITHM", ("HS256", "HS384", "HS512"), "HS256")
ACCESS_TOKEN_EXPIRE_MINUTES = env_number("ACCESS_TOKEN_EXPIRE_MINUTES", 60, minimum=1)
REFRESH_TOKEN_EXPIRE_DAYS = env_number("REFRESH_TOKEN_EXPIRE_DAYS", 7, minimum=1)
SIMPLE_JWT = {
    "ALGORITHM": JWT_ALGORITHM,
    "SIGNING_KEY": JWT_SECRET_KEY,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_EXPIRE_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # A password change (or reset) revokes every token issued before it.
    "CHECK_REVOKE_TOKEN": True,
}

# The language tags a user may choose in their preferences (BCP 47).
LANGUAGES = [
    (tag, tag)
    for tag in env.list(
        "LANGUAGES",
        default=["en", "en-US", "zh-CN", "zh-TW", "ja", "ko", "es", "fr", "de", "pt-BR"],
    )
]
for _tag, _ in LANGUAGES:
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", _tag):
        raise ImproperlyConfigured(f"LANGUAGES: {_tag!r} is not a BCP 47 language tag")

# Requests per minute (docs/api.md, "Rate limits"); 0 turns a limit off.
RATE_LIMIT_PER_MINUTE = env.int("RATE_LIMIT_PER_MINUTE", default=60)
RATE_LIMIT_ANON_PER_MINUTE = env.int("RATE_LIMIT_ANON_PER_MINUTE", default=60)
RATE_LIMIT_LOGIN_PER_MINUTE = env.int("RATE_LIMIT_LOGIN_PER_MINUTE", default=10)
RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE = env.int("RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE", default=20)
RATE_LIMIT_LOGIN_IP_PER_MINUTE = env.int("RATE_LIMIT_LOGIN_IP_PER_MINUTE", default=30)
RATE_LIMIT_REGISTER_PER_MINUTE = env.int("RATE_LIMIT_REGISTER_PER_MINUTE", default=20)
RATE_LIMIT_JOBS_PER_MINUTE = env.int("RATE_LIMIT_JOBS_PER_MINUTE", default=30)
RATE_LIMIT_SIMILAR_PER_MINUTE = env.int("RATE_LIMIT_SIMILAR_PER_MINUTE", default=30)

# --- HTTP -----------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Outside production, whitenoise serves straight from the apps, without collectstatic.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

ALLOWED_ORIGINS = env.list("ALLOWED_ORIGINS", default=["http://localhost:3000"])
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "user-agent",
    "x-csrftoken",
    "x-requested-with",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = [
    "X-Request-ID",
    "X-Process-Time",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "Retry-After",
    "X-Cache",
]

NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES > 0:
    # The proxy in front sets X-Forwarded-Proto itself, believing only the load balancer's
    # (docker/nginx.conf). The host is always the Host header: X-Forwarded-Host is a header
    # a client can send, and the proxy does not pass it on.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- REST framework -------------------------------------------------------------------

DEFAULT_PAGE_SIZE = env.int("DEFAULT_PAGE_SIZE", default=20)
MAX_PAGE_SIZE = env.int("MAX_PAGE_SIZE", default=100)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "apps.core.renderers.EnvelopeJSONRenderer",
        "apps.core.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONObjectParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.negotiation.JSONFallbackNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First: DRF takes the WWW-Authenticate challenge from the first class.
        "apps.core.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.core.throttles.AnonRateThrottle",
        "apps.core.throttles.UserRateThrottle",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.EnvelopePagination",
    "PAGE_SIZE": DEFAULT_PAGE_SIZE,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "apps.core.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.EnvelopeAutoSchema",
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tanka Core API",
    "DESCRIPTION": (
        "The REST foundation of Tanka, an AI messenger that remembers. Every answer under "
        "`/api/v1/` is enveloped: `{success, data}` (plus `meta` on lists) or "
        "`{success: false, error}`."
    ),
    "VERSION": API_VERSION,
    # 3.1: only JSON Schema 2020-12 can say an object's keys hold no NUL (`propertyNames`).
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["apps.core.schema_hooks.strip_trailing_slashes"],
    "ENUM_NAME_OVERRIDES": {"ConnectionStateEnum": "apps.health.serializers.STATES"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema_hooks.forbid_nul_characters",
        "apps.core.schema_hooks.nullable_anything_is_anything",
    ],
}

# --- Logging --------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env_choice("LOG_FORMAT", ("text", "json"), "json" if IS_PRODUCTION else "text")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "apps.core.logging.RequestContextFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.orjson.OrjsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "rq.worker": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}

# What /api/v1/info reports; each feature is listed once it works end to end.
FEATURES_ENABLED = ["health", "openapi_docs", "request_tracing", "cors", "pagination"]
FEATURES_ENABLED += ["auth", "users", "rate_limiting"]
FEATURES_ENABLED += ["jobs", "events"]
FEATURES_ENABLED += ["memories", "caching", "embeddings"]

# Dotted path of the class that turns text into vectors (apps/memories/embeddings.py).
EMBEDDING_BACKEND = env.str("EMBEDDING_BACKEND", default="apps.memories.embeddings.HashingEmbedder")
# How many of a user's most recent memories one `similar` call compares (bounds its work).
SIMILAR_MAX_CANDIDATES = env_number("SIMILAR_MAX_CANDIDATES", 10_000, minimum=1)
