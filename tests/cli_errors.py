"""Shared check of the CLI's bad-input contract: exit 2 and one stderr line naming the option."""
from __future__ import annotations


def assert_one_line_errors(main, capsys, cases: dict, prefix: list | None = None) -> None:
    """``cases``: name -> (argv, option, expected text); ``prefix`` goes after the command name."""
    for name, (argv, option, expected) in cases.items():
        code = main([argv[0], *(prefix or []), *argv[1:]])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, f"{name}: exit {code}, stderr {err!r}"
        assert len(lines) == 1 and lines[0].startswith("gan-jax: error: " + option), f"{name}: {lines}"
        assert expected in lines[0], f"{name}: {expected!r} not in {lines[0]!r}"
