"""Big kernel logs for the scan's equivalence tests: every fixture log (reports and near
misses) with realistic noise lines between them, among them lines that hold the skip
path's coarse literals without being triggers."""

from __future__ import annotations

import random

from conftest import FIXTURES

LOGS = FIXTURES / "kernel-logs"
ALL_LOGS = sorted((LOGS / "reports").glob("*.log")) + sorted((LOGS / "nearmiss").glob("*.log"))
NOISE = [
    b"Mar  1 00:00:01 db1 kernel: [ 1.000000] mlx5_core 0000:3b:00.0: mlx5_alloc_cq:12: allocate CQ ok\n",
    b"Mar  1 00:00:02 db1 kernel: [ 2.000000] TCP: out of memory -- consider tuning tcp_mem\n",
    b"Mar  1 00:00:03 db1 sshd[12]: Accepted publickey for deploy from 10.0.0.1 port 22 ssh2\n",
    b"Mar  1 00:00:04 db1 kernel: [ 4.000000] Linux version 5.15.0-91-generic (buildd@lcy02) #101\n",
    b"Mar  1 00:00:05 db1 kernel: [ 5.000000] warn_alloc: 3 callbacks suppressed\n",
]


def noisy_log(seed: int, copies: int = 2) -> bytes:
    """Noise with every fixture log sprinkled through it, ``copies`` times over."""
    rng = random.Random(seed)
    parts = []
    for _ in range(copies):
        for path in ALL_LOGS:
            parts.extend(rng.choice(NOISE) for _ in range(rng.randrange(0, 40)))
            parts.append(path.read_bytes())
    return b"".join(parts)
