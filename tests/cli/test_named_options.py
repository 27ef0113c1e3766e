"""Every ``tenure COMMAND ... --option`` that the docs, the README, the
templates or a message names is an option that command takes: a page or a
hint cannot send a user to an option that does not exist (the dashboard once
named ``tenure fit churn --save``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from tenure.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "src" / "tenure").rglob("*.py")),
    *sorted((ROOT / "src" / "tenure").rglob("*.j2")),
    *sorted((ROOT / "src" / "tenure").rglob("*.po")),
]
# a command line as text: `tenure` then words, up to the end of the line, a
# backtick, a quote or a sentence's end
MENTION = re.compile(r"\btenure ((?:[a-z][a-z_-]*)(?: [^`\"'\n|;)]*)?)")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _command(root: Any, words: list[str]) -> Any | None:
    command: Any = root
    for word in words:
        if not hasattr(command, "commands"):  # a command, not a group
            break
        sub = command.commands.get(word)
        if sub is None:
            if command is root:
                return None  # "tenure is …": a sentence, not a command line
            break
        command = sub
    return command


def _options(command: Any) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def mentions(root: Any) -> list[tuple[str, int, str, str, Any]]:
    """(file, line, command line, option, command) for every option named
    after a command line in the sources."""
    found = []
    for path in SOURCES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in MENTION.finditer(line):
                text = match.group(1)
                words = [w for w in text.split() if not w.startswith("-")]
                command = _command(root, words[:3])  # tenure loyalty webhooks deliver
                if command is None:
                    continue
                rel = str(path.relative_to(ROOT))
                found.extend((rel, number, text, o, command) for o in OPTION.findall(text))
    return found


def test_every_named_option_exists() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    found = mentions(root)
    # the scan itself works: the docs name --json after many commands
    assert sum(option == "--json" for *_, option, _ in found) > 20
    wrong = [
        f"{rel}:{line} names `tenure {text.strip()}`, but `tenure {command.name}` has no {option}"
        for rel, line, text, option, command in found
        if option not in _options(command)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_catches_an_option_that_does_not_exist() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    fit = _command(root, ["fit", "churn"])
    assert fit is not None and fit.name == "fit"
    assert "--horizon" in _options(fit)
    assert "--save" not in _options(fit)
