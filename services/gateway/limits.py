"""Per-actor rate limits at the gateway: a fixed window per actor (or per client address when the
request carries no valid token). Each gateway replica counts for itself; the limit is set per replica."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> int:
        """0 when the request may go ahead (and is counted), else the seconds to wait."""
        moment = time.time() if now is None else now
        window = int(moment // 60)
        with self._lock:
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            if count >= self.per_minute:
                return max(1, 60 - int(moment % 60))
            self._windows[key] = (start, count + 1)
            if len(self._windows) > 100_000:  # forget old windows rather than grow without bound
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
            return 0
