"""The linear programs of the disclosure audit (:func:`toh.reports.document.disclosure.audit`):
the groups of hidden counts that relations link, one group's program (hashable, so that a
program asked for again is not solved again) and its solution by ``scipy.optimize.linprog``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["Program", "groups", "program", "solve"]

#: A linear program of :func:`toh.reports.document.disclosure.audit`, as solved: (bounds, A_eq, b_eq, A_ub, b_ub, target's column)
Program = tuple[tuple[tuple[float, float | None], ...], bytes, bytes, bytes, bytes, int]


def groups(n: int, rows: Sequence[np.ndarray]) -> np.ndarray:
    """Connected component (a label per variable) of the graph whose edges are the rows."""
    label = np.arange(n)

    def root(i: int) -> int:
        while label[i] != i:
            label[i] = label[label[i]]
            i = int(label[i])
        return i

    for row in rows:
        linked = np.flatnonzero(row)
        for j in linked[1:]:
            a, b = root(int(linked[0])), root(int(j))
            if a != b:
                label[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(n)])


def program(members: np.ndarray, target: int, bounds: Sequence[tuple[float, float | None]],
             rows: Mapping[str, tuple[list[np.ndarray], list[float]]], keep: Mapping[str, list[int]]) -> Program:
    """The linear program of the group ``members`` (the target's column among them) and its rows
    ``keep`` (of each kind, in order)."""
    parts: list[bytes] = []
    for kind in ("eq", "le"):
        a, b = rows[kind]
        parts += [np.array([a[i][members] for i in keep[kind]], dtype=float).tobytes(),
                  np.array([b[i] for i in keep[kind]], dtype=float).tobytes()]
    return (tuple(bounds[i] for i in members), *parts, int(np.searchsorted(members, target)))  # type: ignore[return-value]


def solve(program: Program, n: int, key: str) -> tuple[float, float]:
    """Min and max of the target's column subject to ``program`` (``scipy.optimize.linprog``,
    HiGHS); an end is infinite where the program is unbounded."""
    from scipy.optimize import linprog

    bounds, a_eq, b_eq, a_ub, b_ub, column = program

    def matrix(a: bytes, b: bytes) -> tuple[np.ndarray | None, np.ndarray | None]:
        return (np.frombuffer(a).reshape(-1, n), np.frombuffer(b)) if b else (None, None)

    (a_eq_m, b_eq_v), (a_ub_m, b_ub_v) = matrix(a_eq, b_eq), matrix(a_ub, b_ub)
    ends = []
    for sign in (1.0, -1.0):
        objective = np.zeros(n)
        objective[column] = sign
        fit = linprog(objective, A_ub=a_ub_m, b_ub=b_ub_v, A_eq=a_eq_m, b_eq=b_eq_v, bounds=list(bounds),
                      method="highs")
        if fit.status == 3:
            ends.append(-sign * np.inf)
        elif fit.status != 0:
            raise RuntimeError(f"the audit's linear program for {key!r} failed: {fit.message}")
        else:
            ends.append(sign * fit.fun)
    return (ends[0], ends[1])
