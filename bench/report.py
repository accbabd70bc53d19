"""What a run leaves behind: bench/results/<stamp>.json, a chart beside it, and the
generated part of bench/RESULTS.md (the rest of that page is written by hand)."""

from pathlib import Path
from typing import Any

from bench import similar
from bench.peer import GOAL_HIGHER, GOAL_LOWER
from bench.workloads import LABELS

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def comparison_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| endpoint | figure | peer | Tanka | Tanka / peer | goal |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        goal = f">= {GOAL_HIGHER}" if row["higher_is_better"] else f"<= {GOAL_LOWER}"
        verdict = {True: "met", False: "NOT met", None: "-"}[row["met"]]
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(
            f"| {row['label']} | {row['figure']} | {_number(row['peer'])} | "
            f"{_number(row['tanka'])} | {ratio} | {goal}: {verdict} |"
        )
    return lines


def results_markdown(results: dict[str, Any]) -> str:
    facts, settings = results["machine"], results["settings"]
    lines = [BEGIN, f"## Last run: {results['stamp']}", ""]
    if settings["quick"]:
        lines += ["QUICK smoke run: its figures are not for publishing.", ""]
    lines += [f"`{results['command']}`; raw figures: `bench/results/{results['stamp']}.json`.", ""]
    peer = results["peer"]
    lines += ["### Side by side with the seed's design (FastAPI + Celery)", ""]
    if peer["rows"]:
        met = sum(1 for row in peer["rows"] if row["met"])
        judged = sum(1 for row in peer["rows"] if row["met"] is not None)
        lines += [
            f"`shared/bench/compare.sh`, {settings['rounds']} rounds in alternation, wrk "
            f"{settings['threads']} thread x {settings['connections']} connections x "
            f"{settings['duration']} s, {settings['jobs']} test jobs from "
            f"{settings['job_clients']} threads; Tanka's topology measured directly on its "
            f"one api process ({peer['project_url']}). Medians of the rounds. "
            f"{met} of {judged} rows meet their goal.",
            "",
            *comparison_table(peer["rows"]),
        ]
    else:
        lines.append(f"Not run: {peer['missing']}. Tanka alone below.")
    own = results.get("tanka") or {}
    http = own.get("http") or {}
    if http:
        targets = list(http)
        lines += [
            "",
            "### Tanka: through nginx and on one api process directly",
            "",
            "| workload | "
            + " | ".join(f"{t} req/s | {t} p50 ms | {t} p99 ms" for t in targets)
            + " |",
            "|---|" + "---:|---:|---:|" * len(targets),
        ]
        for name, label in LABELS.items():
            if not any(name in http[t] for t in targets):
                continue
            cells = []
            for target in targets:
                figures = http[target].get(name)
                cells.append(
                    " | ".join(_number(figures[k]) for k in ("rps", "p50_ms", "p99_ms"))
                    if figures
                    else "- | - | -"
                )
            lines.append(f"| `{label}` | " + " | ".join(cells) + " |")
    jobs = own.get("jobs")
    if jobs:
        lines += [
            "",
            f"Jobs through nginx ({jobs['jobs']:.0f} test jobs, {settings['job_clients']} client "
            f"threads): {jobs['enqueue_rate']:.0f} accepted/s, {jobs['throughput']:.0f} "
            f"end to end/s, latency p50 {jobs['p50_ms']:.0f} ms, p95 {jobs['p95_ms']:.0f} ms, "
            f"{jobs['errors']:.0f} errors.",
        ]
    lines += streams_lines(results.get("extras", {}).get("streams"))
    lines += similar_lines(results.get("extras", {}).get("similar"))
    lines += ["", "### Machine", "", "| fact | value |", "|---|---|"]
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        lines.append(f"| {key} | {value} |")
    lines.append(END)
    return "\n".join(lines)


STREAMS_GOAL_RATIO, BURST_GOAL_SECONDS = 0.9, 2.0


def streams_lines(streams: dict[str, Any] | None) -> list[str]:
    if not streams:
        return []
    burst = streams["burst"]
    delivered = burst["received"] == burst["streams"] and (
        (burst["all_received_seconds"] or BURST_GOAL_SECONDS + 1) <= BURST_GOAL_SECONDS
    )
    lines = [
        "",
        f"### Beside {streams['streams']:,} idle event streams",
        "",
        f"{streams['streams']:,} streams opened through nginx in {streams['open_seconds']} s "
        f"and held open while Tanka's rows were measured again (through nginx, same run). "
        f"A burst of one event to each stream's user reached {burst['received']:,} of "
        f"{burst['streams']:,} in {burst['all_received_seconds']} s (p50 "
        f"{burst['p50_seconds']} s; goal: all within {BURST_GOAL_SECONDS} s: "
        f"{'met' if delivered else 'NOT met'}).",
        "",
        "Each row was measured with the streams open and with them closed, in turn (the first "
        "without them is the row measured before they opened); medians, with the rounds in "
        "brackets.",
        "",
        "| workload | req/s without streams | req/s beside them | ratio | "
        f"goal >= {STREAMS_GOAL_RATIO} |",
        "|---|---:|---:|---:|---|",
    ]
    for name, row in streams["rows"].items():
        ratio = row["beside"] / row["without"] if row["without"] else 0
        verdict = "met" if ratio >= STREAMS_GOAL_RATIO else "NOT met"
        cells = []
        for key in ("without", "beside"):
            each = row.get(f"{key}_rounds") or []
            spread = f" ({' / '.join(_number(v) for v in each)})" if len(each) > 1 else ""
            cells.append(f"{_number(row[key])}{spread}")
        lines.append(f"| `{LABELS[name]}` | {cells[0]} | {cells[1]} | {ratio:.2f} | {verdict} |")
    return lines


def similar_lines(measured: dict[str, Any] | None) -> list[str]:
    if not measured:
        return []
    return [
        "",
        "### `GET /api/v1/memories/{id}/similar` as one user's memories grow",
        "",
        "Through nginx; one client (30 sequential requests), then 4 connections.",
        "",
        *similar.table(measured["rows"]),
    ]


def update_results_md(block: str, page: Path = RESULTS_MD) -> None:
    """Replace the generated block of `page`, keeping the hand-written text around it."""
    empty = f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    text = page.read_text() if page.exists() else empty
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    page.write_text(text)


def chart(results: dict[str, Any], path: Path) -> None:
    """Each side-by-side row's ratio Tanka/peer, with the goal lines."""
    rows = [row for row in results["peer"]["rows"] if row["ratio"] is not None]
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(12, 5.5))
    names = [f"{row['endpoint']}\n{row['figure']}" for row in rows]
    colours = ["tab:green" if row["met"] else "tab:red" for row in rows]
    axis.bar(range(len(rows)), [row["ratio"] for row in rows], color=colours)
    axis.axhline(GOAL_HIGHER, linestyle="--", color="grey")
    axis.axhline(GOAL_LOWER, linestyle=":", color="grey")
    axis.axhline(1.0, color="black", linewidth=0.5)
    axis.set_yscale("log")
    axis.set_xticks(range(len(rows)), names, fontsize=7)
    axis.set_ylabel("Tanka / peer (log scale)")
    axis.set_title(
        f"{results['stamp']}: throughput rows want >= {GOAL_HIGHER}, latency rows <= {GOAL_LOWER}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
