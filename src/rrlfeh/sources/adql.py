"""The ADQL query that selects the RR Lyrae catalogue (pure: config in, query text out)."""

from __future__ import annotations

from rrlfeh.config.data import GaiaConfig
from rrlfeh.core import schema

SYNC_ROW_LIMIT = 2000  # astroquery puts TOP 2000 on a synchronous query that has no TOP
_FROM_SOURCE = ("ra", "dec")  # positions come from gaia_source, the rest from vari_rrlyrae


def vari_query(cfg: GaiaConfig) -> str:
    """SELECT the vari_rrlyrae columns (+ ra, dec) of the selected stars, ordered by source_id.

    A synchronous query without `top` asks for one row more than the sync limit, so that a
    truncated answer is detected instead of silently accepted.
    """
    columns = ", ".join(
        f"g.{c}" if c in _FROM_SOURCE else f"v.{c}" for c in schema.VARI_RRLYRAE
    )
    top = cfg.top or (SYNC_ROW_LIMIT + 1 if cfg.tap_mode == "sync" else 0)
    conditions = []
    if cfg.where.strip():
        conditions.append(f"({cfg.where.strip()})")
    if cfg.source_ids:
        ids = ", ".join(str(int(i)) for i in sorted(set(cfg.source_ids)))
        conditions.append(f"v.source_id IN ({ids})")
    return " ".join(
        part for part in (
            f"SELECT{f' TOP {top}' if top else ''} {columns}",
            f"FROM {cfg.vari_table} AS v",
            f"JOIN {cfg.source_table} AS g ON g.source_id = v.source_id",
            f"WHERE {' AND '.join(conditions)}" if conditions else "",
            "ORDER BY v.source_id",
        ) if part
    )
