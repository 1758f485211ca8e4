"""Cutting a sweep's shape groups into parts that train independently, and putting the parts'
results back together.

A member's seed alone fixes its initialisation, the order in which it sees the data and its
step keys (:func:`pcdash.engine.train_members`), so a member trains the same in any part; a
part is a run of consecutive members of one group, and the parts of a group, merged in order,
give the group's result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import numpy as np

from pcdash.engine import EpochRecord, TrainResult

PARTS_PER_WORKER = 2
MAX_PART_MEMBERS = 256  # a part's stacked state must fit one worker's memory


@dataclass(frozen=True)
class Part:
    """Members ``positions`` (consecutive, in order) of group ``group``."""

    group: int
    positions: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)


def split_parts(
    group_sizes: Sequence[int],
    workers: int,
    *,
    parts_per_worker: int = PARTS_PER_WORKER,
    max_members: int | None = MAX_PART_MEMBERS,
    member_costs: Sequence[float] | None = None,
) -> list[Part]:
    """Cut groups of ``group_sizes`` members into about ``workers × parts_per_worker`` parts,
    each group into a number of parts proportional to its share of the work (its size, or its
    size × ``member_costs`` when the cost of a member of each group is known; at least one
    part), members spread evenly; no part larger than ``max_members``. More parts than workers
    balance the load and make a lost worker cost little; fewer, larger parts vectorise better.

    Returns the parts, largest first (the order to hand them out in)."""
    costs = list(member_costs) if member_costs is not None else [1.0] * len(group_sizes)
    work = [size * cost for size, cost in zip(group_sizes, costs, strict=True)]
    total = sum(work)
    if total <= 0:
        return []
    target = max(1, workers * parts_per_worker)
    parts = []
    for g, size in enumerate(group_sizes):
        if size == 0:
            continue
        k = max(1, round(target * work[g] / total))
        if max_members:
            k = max(k, math.ceil(size / max_members))
        for positions in np.array_split(np.arange(size), min(k, size)):
            parts.append(Part(g, positions))
    return sorted(parts, key=lambda p: len(p) * costs[p.group], reverse=True)


def merge_results(parts: Sequence[TrainResult]) -> TrainResult:
    """One group's result from its parts' results, given in member order: per-member arrays
    concatenated; an epoch's ``seconds`` is the slowest part's. Epochs that not every part
    finished (after a Stop) are left out."""
    epochs = min(len(r.history) for r in parts)
    history = []
    for e in range(epochs):
        recs = [r.history[e] for r in parts]
        history.append(
            EpochRecord(
                recs[0].epoch,
                _concat([r.train for r in recs]),
                _concat([r.last_step for r in recs]),
                {split: _concat([r.evals[split] for r in recs]) for split in recs[0].evals},
                np.concatenate([r.diverged for r in recs]),
                max(r.seconds for r in recs),
            )
        )
    carries = [r.carry for r in parts]
    carry = (
        None
        if any(c is None for c in carries)
        else jax.tree_util.tree_map(
            lambda *leaves: (
                np.concatenate(leaves) if isinstance(leaves[0], np.ndarray) else leaves[0]
            ),
            *carries,
        )
    )
    return TrainResult(
        history,
        np.concatenate([r.diverged for r in parts]),
        carry,
        any(r.stopped for r in parts),
        parts[0].steps_per_epoch,
        max(r.compile_s for r in parts),
        devices=max(r.devices for r in parts),
    )


def _concat(dicts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([np.asarray(d[k]) for d in dicts]) for k in dicts[0]}
