"""The fault tier: hostile input, kills and load (`pytest tests/faults`).

Each test reproduces a way a hostile but fair user broke the tool (issue 13) and checks the
answer is one clear line or a per-star reason: never a traceback, a deleted user file, or a
silent estimate for an impossible star. Helpers of the integration tier are shared from there.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
