"""Run sqllogictest files against gsql and summarize the outcomes.

    python scripts/run_slt.py PATH... [--dialect sqlite|duckdb] [--json out.json]
        [--max-records N] [--timeout-per-record S] [--jobs N]

Each PATH is a `.test` file or a folder searched for them. The command prints a line of counts
per file, the totals, every wrong result with its file and line, and the most frequent reasons
for unsupported, error and skipped records. See docs/sqllogictest.md for what each count means.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from gsql.testing.slt import STATUSES, SltOptions, detect_dialect, failure_group, run_script

COUNTED = ("passed", "wrong", "unsupported", "error", "timeout")


def main(argv: list[str] | None = None) -> int:
    arguments = _parse_arguments(argv)
    files = _find_files(arguments.paths)
    if not files:
        print("no .test files found under the given paths", file=sys.stderr)
        return 2

    started = time.perf_counter()
    reports = _run_files(files, arguments)
    summary = summarize(reports)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(format_summary(reports, summary, arguments.top))

    if arguments.json:
        Path(arguments.json).parent.mkdir(parents=True, exist_ok=True)
        Path(arguments.json).write_text(
            json.dumps({"summary": summary, "files": reports}, indent=1)
        )
        print(f"\nwrote {arguments.json}")
    return 0


def _parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run sqllogictest files against gsql.")
    parser.add_argument("paths", nargs="+", help="a .test file, or a folder to search for them")
    parser.add_argument(
        "--dialect",
        choices=("sqlite", "duckdb"),
        help="SQL dialect and result format of the files; guessed for each file when omitted "
        "(DuckDB's files open with a `# name:` line)",
    )
    parser.add_argument("--json", help="write every count and failure to this JSON file")
    parser.add_argument(
        "--max-records",
        type=int,
        help="run at most this many statement and query records per file",
    )
    parser.add_argument(
        "--timeout-per-record",
        type=float,
        default=10.0,
        help="seconds a record may run before it counts as timed out (default 10; 0 for none)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="files to run at once, each in its own process"
    )
    parser.add_argument("--engine", default="pandas", help="gsql engine (default pandas)")
    parser.add_argument(
        "--top",
        type=int,
        default=25,
        help="number of reasons to list for each category (default 25)",
    )
    return parser.parse_args(argv)


def _find_files(paths: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.rglob("*.test")) if path.is_dir() else [path])
    return files


def _run_files(files: list[Path], arguments: argparse.Namespace) -> list[dict[str, Any]]:
    jobs = [(str(path), arguments) for path in files]
    if arguments.jobs <= 1:
        return [_run_file(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=arguments.jobs) as pool:
        return list(pool.map(_run_file, jobs))


def _run_file(job: tuple[str, argparse.Namespace]) -> dict[str, Any]:
    path, arguments = job
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    options = SltOptions(
        dialect=arguments.dialect or detect_dialect(text),
        engine=arguments.engine,
        timeout=arguments.timeout_per_record or None,
        max_records=arguments.max_records,
    )
    report = run_script(Path(path), options, text=text).to_dict()
    counts = report["counts"]["query"]
    print(
        f"  done {path}: {counts['passed']} of {_ran(counts)} queries passed",
        file=sys.stderr,
        flush=True,
    )
    return report


def _ran(counts: dict[str, int]) -> int:
    return sum(counts[status] for status in COUNTED)


def summarize(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Add up the file reports and group the failures by reason."""
    totals = {kind: dict.fromkeys(STATUSES, 0) for kind in ("query", "statement")}
    groups: dict[str, Counter[str]] = {
        status: Counter() for status in ("unsupported", "error", "timeout")
    }
    skipped: Counter[str] = Counter()
    wrong = []

    for report in reports:
        for kind, counts in report["counts"].items():
            for status, count in counts.items():
                totals[kind][status] += count
        skipped.update(report["skip_reasons"])
        for failure in report["failures"]:
            if failure["status"] == "wrong":
                wrong.append({"file": report["path"], **failure})
            else:
                groups[failure["status"]][failure_group(failure["reason"])] += 1

    queries = totals["query"]
    return {
        "totals": totals,
        "query_pass_rate": round(queries["passed"] / max(_ran(queries), 1), 4),
        "wrong": wrong,
        "unsupported": dict(groups["unsupported"].most_common()),
        "errors": dict(groups["error"].most_common()),
        "timeouts": dict(groups["timeout"].most_common()),
        "skip_reasons": dict(skipped.most_common()),
    }


def format_summary(reports: list[dict[str, Any]], summary: dict[str, Any], top: int) -> str:
    """Render the per-file table, the totals and the grouped reasons as text."""
    lines = [_table_header()]
    for report in reports:
        lines.append(_table_row(report["path"], report["counts"]))
        if report["stopped"]:
            lines.append(f"    stopped: {report['stopped']}")
    lines.append(_table_row("TOTAL", summary["totals"]))

    queries = summary["totals"]["query"]
    statements = summary["totals"]["statement"]
    lines += [
        "",
        (
            f"queries: {queries['passed']} passed of {_ran(queries)} run "
            f"({100 * summary['query_pass_rate']:.1f}%), {queries['wrong']} wrong, "
            f"{queries['unsupported']} unsupported, {queries['error']} error, "
            f"{queries['timeout']} timed out. {queries['skipped']} skipped, "
            f"{queries['excluded']} excluded by skipif/onlyif"
        ),
        (
            f"statements: {statements['passed']} passed of {_ran(statements)} run. "
            f"{statements['skipped']} skipped, {statements['excluded']} excluded"
        ),
        f"time: {summary.get('seconds', 0)} s",
    ]

    lines += ["", f"WRONG results ({len(summary['wrong'])}):"]
    for failure in summary["wrong"]:
        first_line = " ".join(failure["sql"].split())[:160]
        lines.append(f"  {failure['file']}:{failure['line']}: {failure['reason']}")
        lines.append(f"      {first_line}")
    for title, key in (
        ("unsupported", "unsupported"),
        ("error", "errors"),
        ("timeout", "timeouts"),
        ("skipped", "skip_reasons"),
    ):
        lines += _top_reasons(title, summary[key], top)
    return "\n".join(lines)


def _table_header() -> str:
    columns = "".join(
        f"{name:>8}" for name in ("passed", "run", "wrong", "unsup", "error", "t/o", "skip", "excl")
    )
    return f"{'file':<60}{columns}{'stmt ok':>9}{'stmt run':>9}"


def _table_row(name: str, counts: dict[str, dict[str, int]]) -> str:
    query = counts["query"]
    numbers = [
        query["passed"],
        _ran(query),
        query["wrong"],
        query["unsupported"],
        query["error"],
        query["timeout"],
        query["skipped"],
        query["excluded"],
    ]
    cells = "".join(f"{number:>8}" for number in numbers)
    statement = counts["statement"]
    label = name if len(name) <= 58 else "..." + name[-55:]
    return f"{label:<60}{cells}{statement['passed']:>9}{_ran(statement):>9}"


def _top_reasons(title: str, reasons: dict[str, int], top: int) -> list[str]:
    total = sum(reasons.values())
    lines = [
        "",
        f"{title} ({total} records, {len(reasons)} reasons; top {min(top, len(reasons))}):",
    ]
    for reason, count in list(reasons.items())[:top]:
        lines.append(f"  {count:>6}  {reason[:200]}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
