"""The digest's chart, a PNG readable on a phone: decisions per day stacked by followed / deviated / escalated, and
money spent per day with the number of decisions over the limit written over each bar.

Headless: the Agg backend is chosen before anything else of matplotlib loads, and pyplot (global state, not
thread-safe) is not used at all, so charts may be drawn in a worker thread. matplotlib is imported on the first
chart, not with the bot: it is half a second of every start, and most starts draw no chart.
"""

from __future__ import annotations

import io

from babel.dates import format_date

from bot.core.digest import Figures
from bot.core.money import currency_decimals, from_minor

COLOURS = {"followed": "#2e7d32", "deviated": "#f9a825", "escalated": "#c62828", "spent": "#1565c0"}
FONT = 15


def render_chart(figures: Figures, labels: dict[str, str], language: str = "en") -> bytes:
    days = figures.days
    locale = language.replace("-", "_")
    names = [format_date(day.day, "EEE\nd", locale=locale) for day in days]
    x = list(range(len(days)))
    decimals = currency_decimals(figures.currency)

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 9), dpi=110)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})

    followed = [d.followed for d in days]
    other = [d.other for d in days]
    escalated = [d.escalated for d in days]
    top.bar(x, followed, color=COLOURS["followed"], label=labels["followed"])
    top.bar(x, other, bottom=followed, color=COLOURS["deviated"], label=labels["deviated"])
    top.bar(x, escalated, bottom=[f + o for f, o in zip(followed, other, strict=True)], color=COLOURS["escalated"],
            label=labels["escalated"])
    top.set_title(f"{labels['title']} · {figures.team} · {figures.week.label}", fontsize=FONT + 3,
                  fontweight="bold")
    top.set_ylabel(labels["decisions"], fontsize=FONT)
    top.legend(fontsize=FONT - 2, loc="upper left", frameon=False, ncols=3, bbox_to_anchor=(0, -0.12))
    top.yaxis.get_major_locator().set_params(integer=True)
    peak = max([d.decisions for d in days] + [1])
    top.set_ylim(0, peak * 1.15)

    spent = [float(from_minor(d.spent_minor, decimals)) for d in days]
    bottom.bar(x, spent, color=COLOURS["spent"])
    bottom.set_ylabel(f"{labels['spent']} ({figures.currency})", fontsize=FONT)
    top_spent = max([*spent, 1.0])
    bottom.set_ylim(0, top_spent * 1.3)
    for index, day in enumerate(days):
        if day.over_limit:
            bottom.text(index, spent[index] + top_spent * 0.04, f"⚠ {day.over_limit}", ha="center",
                        fontsize=FONT, color=COLOURS["escalated"], fontweight="bold")
    bottom.set_title(f"{labels['spent']} · ⚠ = {labels['over_limit']}", fontsize=FONT)

    for axis in (top, bottom):
        axis.set_xticks(x, names, fontsize=FONT - 1)
        axis.tick_params(axis="y", labelsize=FONT - 2)
        axis.spines[["top", "right"]].set_visible(False)
        axis.grid(axis="y", alpha=0.3)
    figure.tight_layout(h_pad=2.5)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
