"""Names every part of the stack agrees on, with no Django import: the settings, the task
engine's worker and the tools that start processes on one machine (`devstack/`) read them
from here, so they cannot drift apart."""

# RQ takes from the first queue that has work, so workers list them in this order.
QUEUES = ("high_priority", "default", "low_priority")

# A worker's exit status after giving up a job stuck past its hard time limit: its
# supervisor (Docker's restart policy, `make run`, systemd) starts a fresh worker.
EXIT_HARD_LIMIT = 70

# Every rate limit (requests per minute, 0 turns one off); benchmarks and load tests set
# them all out of the way.
RATE_LIMIT_SETTINGS = (
    "RATE_LIMIT_PER_MINUTE",
    "RATE_LIMIT_ANON_PER_MINUTE",
    "RATE_LIMIT_LOGIN_PER_MINUTE",
    "RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE",
    "RATE_LIMIT_LOGIN_IP_PER_MINUTE",
    "RATE_LIMIT_REGISTER_PER_MINUTE",
    "RATE_LIMIT_JOBS_PER_MINUTE",
    "RATE_LIMIT_SIMILAR_PER_MINUTE",
)
