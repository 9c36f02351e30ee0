"""`venice-video models`: what each model takes and costs; and `--model cheapest`.

The listing prices each model with `/video/quote` (free, cached for a day): at its own
default shape (shortest duration, 720p or its first resolution), or at the duration and
resolution asked for. `--needs` keeps the models that can make the video (inputs in, sound
out), `--sort price` puts the cheapest first, and `--diff` shows how the live list differs
from the snapshot bundled with the package.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from .._catalog import (
    INPUT_NEEDS,
    NEEDS,
    Catalog,
    VideoModel,
    bundled_catalog,
    bundled_catalog_date,
)
from .._choose import CHEAPEST, PricedModel, cheapest_query, fill_from_choice
from .._client import VeniceVideo
from ._errors import CLIError
from ._group import State, pass_state
from ._progress import plain_table

__all__ = ["CHEAPEST", "diff_report", "listing", "pick_cheapest", "render_listing"]

COLUMNS = ["id", "type", "durations", "resolutions", "aspect_ratios", "audio", "inputs"]
PRICE_COLUMNS = ["price", "priced_at"]
#: Request options that are inputs, by their `NEEDS` name.


def listing(
    client: VeniceVideo,
    catalog: Catalog,
    *,
    needs: str | None,
    duration: str | None,
    resolution: str | None,
    aspect_ratio: str | None,
    model_type: str | None,
    needs_input: str | None,
    prices: bool,
    sort: str,
) -> list[tuple[VideoModel, PricedModel | None]]:
    """The models to list, each with its price when `prices`, in the order asked."""
    try:
        wanted = sorted(_needs(needs))
        given = sorted(set(wanted) & INPUT_NEEDS) or None
        chosen = catalog.matching(
            needs=wanted, duration=duration, resolution=resolution,
            aspect_ratio=aspect_ratio, model_type=model_type, inputs_given=given,
        )  # fmt: skip
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--needs") from error
    if needs_input is not None:
        chosen = [m for m in chosen if needs_input in m.inputs]
    by_id: dict[str, PricedModel] = {}
    if prices:
        priced = client.models_by_price(
            needs=wanted, duration=duration, resolution=resolution,
            aspect_ratio=aspect_ratio, model_type=model_type, inputs_given=given,
        )  # fmt: skip
        by_id = {p.id: p for p in priced}
    rows = [(m, by_id.get(m.id)) for m in chosen]
    if sort == "price":
        rows.sort(key=lambda r: _price_key(r[1], r[0]))
    elif sort == "id":
        rows.sort(key=lambda r: r[0].id)
    return rows


def row_data(model: VideoModel, priced: PricedModel | None) -> dict[str, Any]:
    """One model as plain data (the `--json` shape)."""
    data: dict[str, Any] = model.model_dump(mode="json")
    data["inputs"] = list(model.inputs)
    data["needs"] = sorted(model.capabilities)
    if priced is not None:
        data["quote_usd"] = priced.quote_usd
        data["priced_at"] = priced.request.to_body() if priced.request is not None else None
        if priced.note:
            data["price_note"] = priced.note
    return data


def render_listing(rows: Sequence[tuple[VideoModel, PricedModel | None]], prices: bool) -> None:
    """Print the listing: a rich table on a terminal, a plain one otherwise."""
    columns = COLUMNS + (PRICE_COLUMNS if prices else [])
    table_rows = [_text_row(m, p) for m, p in rows]
    if not sys.stdout.isatty():
        click.echo(plain_table(table_rows, columns) if table_rows else "no models match")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(table_rows)} video models", show_lines=False)
    longest = max((len(r["id"]) for r in table_rows), default=2)
    for column in columns:
        if column == "id":
            # An id is copied into commands: it is never wrapped, mid-word or otherwise.
            table.add_column(column, no_wrap=True, min_width=longest)
        elif column == "price":
            table.add_column(column, no_wrap=True, justify="right")
        else:
            table.add_column(column, overflow="fold")
    for row in table_rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)


def diff_report(live: Catalog, base_url: str) -> tuple[dict[str, Any], str]:
    """How the live list differs from the bundled snapshot, as data and as text."""
    if live.source == "bundled":
        text = (
            f"the live model list at {base_url} could not be fetched; the bundled snapshot "
            f"({bundled_catalog_date()}) is in use, so there is nothing to compare"
        )
        return {"compared": False, "base_url": base_url}, text
    diff = bundled_catalog().diff(live)
    data = {
        "compared": True,
        "base_url": base_url,
        "bundled_date": bundled_catalog_date(),
        "added": [m.id for m in diff.added],
        "removed": [m.id for m in diff.removed],
        "changed": {
            model_id: {name: [_plain(old), _plain(new)] for name, (old, new) in fields.items()}
            for model_id, fields in diff.changed.items()
        },
    }
    where = f"{base_url} (a cached copy)" if live.source == "cache" else base_url
    head = (
        f"bundled snapshot ({bundled_catalog_date()}) -> live list at {where}: "
        f"{len(diff.added)} new, {len(diff.removed)} gone, {len(diff.changed)} changed "
        "(the live list is the one used)"
    )
    return data, "\n".join([head, *diff.lines()]) if diff else f"{head}\nno differences"


def pick_cheapest(client: VeniceVideo, fields: dict[str, Any]) -> PricedModel:
    """Replace `model: cheapest` with the cheapest model that can make the request (see
    `cheapest_query`); the duration and resolution priced are written into `fields`, so the
    quote shown before paying is the one compared."""
    choice = client.cheapest_model(**cheapest_query(fields))
    if choice.request is None or choice.quote_usd is None:  # pragma: no cover - never chosen
        raise CLIError("no model with a known price can make this video", family="validation")
    fill_from_choice(fields, choice)
    return choice


def _needs(needs: str | None) -> list[str]:
    return [n for n in (needs or "").split(",") if n.strip()]


def _price_key(priced: PricedModel | None, model: VideoModel) -> tuple[bool, float, str]:
    quote = priced.quote_usd if priced is not None else None
    return (quote is None, quote or 0.0, model.id)


def _text_row(model: VideoModel, priced: PricedModel | None) -> dict[str, Any]:
    row = {
        "id": model.id,
        "type": model.model_type,
        "durations": _compact(model.durations),
        "resolutions": " ".join(model.resolutions) or "-",
        "aspect_ratios": " ".join(model.aspect_ratios) or "-",
        "audio": ("configurable" if model.audio_configurable else "yes") if model.audio else "no",
        "inputs": " ".join(model.inputs),
    }
    if priced is None or priced.quote_usd is None:
        row["price"] = "by input" if priced is not None and priced.request is None else "-"
        row["priced_at"] = "-"
    else:
        row["price"] = f"${priced.quote_usd:.2f}"
        row["priced_at"] = priced.shape
    return row


def _compact(durations: tuple[str, ...]) -> str:
    seconds = [int(d[:-1]) for d in durations if d.endswith("s") and d[:-1].isdigit()]
    if len(seconds) == len(durations) and len(seconds) > 3:
        if seconds == list(range(seconds[0], seconds[-1] + 1)):
            return f"{seconds[0]}-{seconds[-1]}s"
    return " ".join(durations) or "-"


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


# ------------------------------------------------------------------------------ the command


@click.command()
@click.option(
    "--type", "model_type", type=click.Choice(["text-to-video", "image-to-video", "video"])
)
@click.option(
    "--input", "needs_input", help="Only models taking this input (image, video, audio, ...)."
)
@click.option(
    "--needs",
    metavar="LIST",
    help="Only models that can make it, e.g. image,audio (a first frame in, sound out). "
    f"Known: {', '.join(NEEDS)}.",
)
@click.option("-d", "--duration", help="Only models taking this duration (e.g. 10s); priced at it.")
@click.option("-r", "--resolution", help="Only models taking this resolution; priced at it.")
@click.option("-a", "--aspect", "aspect_ratio", help="Only models taking this aspect ratio.")
@click.option(
    "--sort",
    type=click.Choice(["catalog", "price", "id"]),
    default="catalog",
    show_default=True,
    help="Order: as listed by the API, cheapest first, or by id.",
)
@click.option("--no-prices", is_flag=True, help="Skip the quotes (no /video/quote requests).")
@click.option("--diff", is_flag=True, help="Show how the live list differs from the bundled one.")
@click.option("--refresh", is_flag=True, help="Fetch the catalog and quotes again, not cached.")
@pass_state
def models(
    state: State,
    model_type: str | None,
    needs_input: str | None,
    needs: str | None,
    duration: str | None,
    resolution: str | None,
    aspect_ratio: str | None,
    sort: str,
    no_prices: bool,
    diff: bool,
    refresh: bool,
) -> None:
    """List video models, what each accepts and what it costs (a free quote per model)."""
    if duration is not None and duration.strip().isdigit():
        duration = f"{duration.strip()}s"
    with state.client() as client:
        catalog = client.models(refresh=refresh)
        if diff:
            data, text = diff_report(catalog, client.base_url)
            state.emit(data, text)
            return
        prices = not no_prices or sort == "price"
        rows = listing(
            client, catalog, needs=needs, duration=duration, resolution=resolution,
            aspect_ratio=aspect_ratio, model_type=model_type, needs_input=needs_input,
            prices=prices, sort=sort,
        )  # fmt: skip
    if state.as_json:
        state.emit([row_data(m, p) for m, p in rows])
        return
    render_listing(rows, prices)
