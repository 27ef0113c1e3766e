"""What every command shares: --store, --json, error printing, progress."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="TENURE_STORE",
        help="Workspace folder holding analytics.duckdb and ops.sqlite. "
        "Default: ./tenure-data (or 'store' in tenure.toml).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")
]


def run_app(app: typer.Typer) -> None:
    """Run the CLI as the entry point does: every error is a message, never a
    traceback. Exit 0 on success, 1 on a user error, 2 on a usage error, 130
    on Ctrl-C. With --json every failure is one JSON error document on
    stdout (the message goes to stderr as well)."""
    from tenure.cli._params import lighten
    from tenure.errors import TenureError
    from tenure.store import locks, served

    as_json = "--json" in sys.argv
    lighten()  # plain options converted without importing pydantic
    # a command waiting for another one's write says so, on stderr
    locks.configure(notice=lambda text: print(f"tenure: {text}", file=sys.stderr, flush=True))
    served.make_way_for_servers()  # a command writing beside a server comes second on the cores
    try:
        # without standalone mode the parser returns an exit code instead of exiting:
        # 130 when Ctrl-C stopped the command
        code = app(standalone_mode=False)
        if code == 130:
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except TenureError as exc:
        _fail(exc.exit_code, exc.to_dict(), exc.render(), as_json)
    except KeyboardInterrupt:
        if as_json:
            emit_json(_error_doc("interrupted", "interrupted (Ctrl-C).", None))
        print("Interrupted: the store was left as it was.", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        sys.exit(1)
    except MemoryError:
        _fail(
            1,
            _error_doc("out_of_memory", "the machine ran out of memory.", MEMORY_HINT),
            f"the machine ran out of memory.\n{MEMORY_HINT}",
            as_json,
        )
    except Exception as exc:  # noqa: BLE001 - a bug must still not print a traceback
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            # usage errors from the command-line parser (Typer's own copy of
            # click): they show themselves and exit 2
            if as_json:
                emit_json(_error_doc("usage_error", exc.format_message(), "See --help."))
            exc.show()
            sys.exit(exc.exit_code)
        import traceback

        where = "".join(traceback.format_exception(exc)[-3:]).strip().splitlines()
        what = f"internal error: {type(exc).__name__}: {exc}"
        hint = (
            "This is a bug in tenure. Please report it with the command you ran and "
            "these lines: " + " | ".join(line.strip() for line in where[-4:])
        )
        _fail(1, _error_doc("internal_error", what, hint), f"{what}\n{hint}", as_json)
    finally:
        # a command run inside another program (tests, a notebook) leaves
        # that program's later writes at their own priority
        served.make_way_for_servers(False)
    sys.exit(0)


MEMORY_HINT = "Close other programs, or ingest the data in smaller files, and try again."


def _error_doc(code: str, message: str, hint: str | None) -> dict[str, Any]:
    fields = ("source", "row", "column", "value", "expected")
    return {"error": {"code": code, "message": message, "hint": hint, **dict.fromkeys(fields)}}


def _fail(exit_code: int, doc: dict[str, Any], text: str, as_json: bool) -> None:
    if as_json:
        emit_json(doc)
    console = err_console()
    console.print("[bold red]Error:[/]", end=" ")
    console.print(text, markup=False)
    sys.exit(exit_code)


def emit_json(data: Any) -> None:
    """One JSON document on stdout (see :func:`tenure.jsondoc.dumps`)."""
    from tenure.jsondoc import dumps

    sys.stdout.write(dumps(data) + "\n")


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def out_console(*, markup: bool = True):
    """stdout's console; ``markup=False`` where the text carries what users
    typed (ids, reasons, settings' names such as [loyalty]), printed as is."""
    from rich.console import Console

    # Piped into a file or another program, tables keep their natural width
    # and sentences stay on one line, unless COLUMNS says how wide the output
    # may be; in a terminal, sentences wrap between words at its width.
    fitted = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
    return Console(highlight=False, soft_wrap=not fitted, width=None if fitted else 200,
                   markup=markup)  # fmt: skip


@contextmanager
def progress(enabled: bool = True) -> Iterator[Any]:
    """A spinner on stderr that shows the current stage: ``update(stage)``."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _stage: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    ) as bar:
        task = bar.add_task("starting")
        yield lambda stage: bar.update(task, description=stage)


# -- options of the commands that read the engine ------------------------------

PERIODS = ("month", "quarter", "year")
# a period outside the list is a usage error (exit 2), caught by the parser
PeriodOption = Annotated[
    str,
    typer.Option(
        "--period",
        help="Calendar period: month, quarter or year.",
        callback=lambda value: _one_of(value, PERIODS),
    ),
]


def one_of(*choices: str):
    """An option's callback: a value outside ``choices`` is a usage error
    (exit 2), said by the parser with the choices."""
    return lambda value: _one_of(value, choices)


def _one_of(value: str | None, choices: tuple[str, ...]) -> str | None:
    if value is not None and value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}.")
    return value


ActivityWindowOption = Annotated[
    int | None,
    typer.Option(
        "--activity-window",
        help="Days: a customer is active at a date when they purchased within this many days "
        "up to it. Default: 365 (or activity_window in tenure.toml).",
        show_default=False,
    ),
]
ActiveByOption = Annotated[
    str | None,
    typer.Option(
        "--active-by",
        help="What makes a customer active: purchase, subscription, either, or auto "
        "(subscriptions and/or purchases, by what the store holds).",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Last day the numbers see (YYYY-MM-DD). Default: the day of the latest purchase.",
        show_default=False,
    ),
]
TimezoneOption = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        help="The business's time zone: days and months begin at midnight there. Default: UTC.",
        show_default=False,
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        envvar="TENURE_ENGINE",
        help="Where to compute: duckdb (default) or spark.",
        show_default=False,
    ),
]
# filters: the same numbers for part of the customers (tenure.analysis.filters)
CountryOption = Annotated[
    str | None,
    typer.Option(help="Only customers of this country (ISO code, e.g. DE).", show_default=False),
]
ChannelOption = Annotated[
    str | None,
    typer.Option(help="Only customers acquired through this channel.", show_default=False),
]
CohortOption = Annotated[
    str | None,
    typer.Option(
        help="Only customers whose first purchase was in this month (YYYY-MM).",
        show_default=False,
    ),
]
SegmentFilterOption = Annotated[
    str | None,
    typer.Option(
        "--segment",
        help="Only customers in this segment now: new, at risk, high value, active, lapsed, "
        "or rfm:SEGMENT (an RFM segment, e.g. rfm:champions).",
        show_default=False,
    ),
]
FromOption = Annotated[
    str | None,
    typer.Option(
        "--from", help="Only periods that start on or after this date (YYYY-MM-DD).",
        show_default=False,
    ),
]  # fmt: skip
ToOption = Annotated[
    str | None,
    typer.Option(
        "--to", help="End the data at this date (YYYY-MM-DD), like --as-of.", show_default=False
    ),
]


def filters_of(**given: str | None) -> dict[str, str]:
    """The filters given on the command line, for the library's ``filters=``."""
    return {k: v for k, v in given.items() if v is not None}


MasterOption = Annotated[
    str | None,
    typer.Option(
        "--master",
        envvar="TENURE_SPARK_MASTER",
        help="Spark master URL for --engine spark, e.g. local[2] or spark://host:7077.",
        show_default=False,
    ),
]


def engine_settings(store: Path | None, **flags: Any):
    from tenure.config import load_settings

    return load_settings(store=store, **flags)


def fmt_number(value: Any, digits: int = 1, suffix: str = "") -> str:
    """A number for a terminal table; missing values show as an em dash."""

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        value = round(value, digits) + 0.0  # no "-0" for a tiny negative
    if isinstance(value, int) or (isinstance(value, float) and digits == 0):
        return f"{value:,.0f}{suffix}"
    return f"{value:,.{digits}f}{suffix}"
