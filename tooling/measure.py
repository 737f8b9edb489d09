"""Peak memory of a block of work."""
import threading
import time

import psutil


class PeakRSS:
    """Peak resident memory above the starting level, sampled every 10 ms."""

    def __enter__(self):
        self.proc, self.base, self.peak, self.done = psutil.Process(), psutil.Process().memory_info().rss, 0, False
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()
        return self

    def watch(self):
        while not self.done:
            self.peak = max(self.peak, self.proc.memory_info().rss - self.base)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.done = True
        self.thread.join()
