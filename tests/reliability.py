"""Figures the reliability tests count as they run (inputs tried, faults injected, records lost).

`make bench` runs those tests with bench/reliability_plugin.py, which writes these figures for
bench/RESULTS.md; in a plain `make test` they are counted and simply not written anywhere.
"""

FIGURES: dict[str, int] = {}


def tally(figure: str, amount: int = 1) -> None:
    FIGURES[figure] = FIGURES.get(figure, 0) + amount
