"""Runs a few jobs with `generate()` until it is killed; `test_kill_resume.py` kills it.

Usage: python kill_driver.py BASE_URL JOURNAL OUTPUT_DIR JOBS SEED  (the key comes from
VENICE_API_KEY). Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from venice_video import VeniceVideo

INLINE_MODEL = "grok-imagine-1-5-text-to-video-private"
URL_MODEL = "grok-imagine-text-to-video-private"


def main() -> None:
    base_url, journal, output_dir, jobs, seed = sys.argv[1:6]
    out = Path(output_dir)
    with VeniceVideo(
        base_url=base_url, journal=journal, cache_dir=False, idempotent_queue_retries=True
    ) as client:

        def one(index: int) -> None:
            client.generate(
                model=URL_MODEL if index % 2 else INLINE_MODEL,
                prompt=f"kite {seed}-{index}",
                duration="1s",
                resolution="480p",
                aspect_ratio="16:9",
                output=out / f"{seed}-{index}.mp4",
            )

        with ThreadPoolExecutor(max_workers=int(jobs)) as pool:
            list(pool.map(one, range(int(jobs))))
    print("done", flush=True)


if __name__ == "__main__":
    main()
