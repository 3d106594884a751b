"""The reliability diagram: observed accuracy against mean stated confidence per bin, one line per agent,
with the diagonal of perfect calibration and the number of outcomes behind each point. PNG or SVG, by the
file's extension. Needs matplotlib (`pip install 'hitl[plot]'`)."""

from pathlib import Path

from hitl_cli.errors import UsageError

FORMATS = {".png": "png", ".svg": "svg"}


def check_format(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"--plot {path}: the file must end in .png or .svg")
    return kind


def draw(agents: dict, path: Path) -> None:
    kind = check_format(path)
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'hitl[plot]'") from None
    figure, axes = pyplot.subplots(figsize=(7, 6), dpi=110)
    try:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
        for agent, tables in agents.items():
            table = tables["overall"]
            points = [b for b in table["bins"] if b["count"]]
            xs = [b["mean_confidence"] for b in points]
            ys = [b["accuracy"] for b in points]
            label = f"{agent} (n={table['samples']}, ECE {table['ece']:.3f}, Brier {table['brier']:.3f})"
            line, = axes.plot(xs, ys, marker="o", label=label)
            for b in points:
                axes.annotate(str(b["count"]), (b["mean_confidence"], b["accuracy"]), textcoords="offset points",
                              xytext=(4, -10), fontsize=7, color=line.get_color())
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.set_xlabel("stated confidence (mean of the bin)")
        axes.set_ylabel("observed accuracy")
        axes.set_title("Reliability diagram (numbers: outcomes per bin)")
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize=8)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format=kind, bbox_inches="tight")
    finally:
        pyplot.close(figure)
