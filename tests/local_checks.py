"""What tests read back from the local server and from the videos it makes: the server's own
record of an account (queue requests per key, jobs created) and decoded frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np


def local_stats(server: Any, api_key: str) -> dict[str, Any]:
    """The server's test-support record of this account: queue requests per key, jobs."""
    response = httpx.get(
        f"{server.root_url}/_local/stats", headers={"Authorization": f"Bearer {api_key}"}
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def frames(path: Path) -> list[np.ndarray[Any, Any]]:
    """Every decoded picture of a video, as RGB arrays."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def mean_diff(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    """The mean absolute difference of two pictures, 0 to 255."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
