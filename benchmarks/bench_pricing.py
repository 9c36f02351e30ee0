"""How closely the local server's prices follow Venice's, and what the priced listing costs.

Prints, from the price list bundled with the package (Venice's `/video/quote` answers of
2026-09-29):

1. the listed combinations the local server charges to the cent (all should be);
2. how well the fitted rule predicts prices it was not given, leaving out in turn one listed
   duration (the model's own rate), one whole model (its family's rate) and one whole family
   (the catalog-wide rate at that height);
3. the time to price every model with `models_by_price()` against a local server, cold and
   from the quote cache, with one plain `GET /models` as the baseline.

    python benchmarks/bench_pricing.py

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable

from venice_video import VeniceVideo
from venice_video._catalog import bundled_catalog
from venice_video.server import PricingTable, ServerConfig, ServerThread
from venice_video.server._pricing import PriceBook, bundled_prices, quote_usd


def listed_agreement() -> tuple[int, int]:
    catalog, table, book = bundled_catalog(), PricingTable(), bundled_prices()
    total = matched = 0
    for model_id, quotes in book.quotes.items():
        for key, price in quotes.items():
            resolution, duration, audio = key.split("|")
            body: dict[str, object] = {"duration": duration, "audio": audio == "on"}
            if resolution != "-":
                body["resolution"] = catalog[model_id].resolution_label(resolution)
            total += 1
            matched += round(quote_usd(table, catalog[model_id], body) * 100) == round(price * 100)
    return matched, total


def leave_one_duration_out() -> list[tuple[float, float]]:
    book = bundled_prices()
    pairs = []
    for model_id, quotes in book.quotes.items():
        groups: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        for key, price in quotes.items():
            resolution, _, audio = key.split("|")
            groups[(resolution, audio)][key] = price
        for (resolution, audio), prices in groups.items():
            for key, price in prices.items() if len(prices) > 1 else ():
                rest = PriceBook({model_id: {k: v for k, v in prices.items() if k != key}})
                guess = rest.price(model_id, _label(resolution), _seconds(key), audio == "on")
                if guess is not None:
                    pairs.append((guess, price))
    return pairs


def leave_out(
    grouping: Callable[[str], str], *, with_family: bool = False
) -> list[tuple[float, float]]:
    """Leave out every model sharing a group key in turn, and price its listed combinations
    (with `with_family`, only models with a priced sibling left to borrow a rate from)."""
    book = bundled_prices()
    groups: dict[str, list[str]] = defaultdict(list)
    for model_id in book.quotes:
        groups[grouping(model_id)].append(model_id)
    pairs = []
    for members in groups.values():
        kept = {k: v for k, v in book.quotes.items() if k not in members}
        rest = PriceBook(kept, book.families)  # a family is the model's, not its prices
        for model_id in members:
            family = book.families.get(model_id)
            siblings = [k for k, q in kept.items() if q and book.families.get(k) == family]
            if with_family and not siblings:
                continue
            for key, price in book.quotes[model_id].items():
                resolution, duration, audio = key.split("|")
                if not duration.endswith("s"):
                    continue
                guess = rest.price(model_id, _label(resolution), _seconds(key), audio == "on")
                if guess is not None:
                    pairs.append((guess, price))
    return pairs


def describe(name: str, pairs: list[tuple[float, float]]) -> str:
    errors = sorted(abs(g - p) / p for g, p in pairs)
    cent = sum(abs(g - p) <= 0.0101 for g, p in pairs) / len(pairs)
    five = sum(e <= 0.05 for e in errors) / len(errors)
    return (
        f"{name:<34} {len(pairs):5d} prices  median error {statistics.median(errors):6.1%}  "
        f"p90 {errors[int(0.9 * len(errors))]:6.1%}  within 1 cent {cent:6.1%}  "
        f"within 5% {five:6.1%}"
    )


def listing_times() -> tuple[float, float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        config = ServerConfig(data_dir=f"{folder}/server", speed=1000)
        with ServerThread(config) as server:
            with VeniceVideo(api_key="bench", base_url=server.base_url, journal=False,
                             cache_dir=f"{folder}/cache") as client:  # fmt: skip
                start = time.perf_counter()
                client.models(refresh=True)
                baseline = time.perf_counter() - start
                start = time.perf_counter()
                priced = client.models_by_price()
                cold = time.perf_counter() - start
                start = time.perf_counter()
                client.models_by_price()
                warm = time.perf_counter() - start
    return baseline, cold, warm, len(priced)


def _label(resolution: str) -> str | None:
    return None if resolution == "-" else resolution


def _seconds(key: str) -> int:
    return int(key.split("|")[1].removesuffix("s"))


def main() -> None:
    matched, total = listed_agreement()
    print(f"listed combinations charged to the cent: {matched} of {total}")
    book = bundled_prices()
    print(describe("the model's rate (one duration out)", leave_one_duration_out()))
    print(describe("the family's rate (one model out)", leave_out(lambda m: m, with_family=True)))
    print(describe("the catalog's rate (family out)", leave_out(lambda m: book.families[m])))
    baseline, cold, warm, count = listing_times()
    print(
        f"models_by_price() over {count} models: cold {cold:.2f} s, from the quote cache "
        f"{warm:.3f} s; GET /models {baseline:.3f} s (cold is {cold / baseline:.0f}x, cached "
        f"{warm / baseline:.1f}x the baseline)"
    )


if __name__ == "__main__":
    main()
