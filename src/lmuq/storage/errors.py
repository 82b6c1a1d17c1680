"""What a run store can refuse: the errors of :mod:`lmuq.storage`."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["IncompleteRunError", "RunMismatchError", "SchemaVersionError", "StoreError"]


class StoreError(Exception):
    """A run store cannot do what was asked."""


class SchemaVersionError(StoreError):
    """The store file was written by a newer lmuq (or is not an lmuq store)."""


class RunMismatchError(StoreError, ValueError):
    """A run exists under this name with different settings or prompts."""

    def __init__(self, run_id: str, what: str, differences: Sequence[str]) -> None:
        self.run_id = run_id
        self.differences = list(differences)
        shown = "\n  ".join(self.differences[:20])
        more = len(self.differences) - 20
        extra = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"run {run_id!r} already exists with different {what}:\n  {shown}{extra}\n"
            "Use a new run name, or pass the same settings to resume it."
        )


class IncompleteRunError(StoreError):
    """Some (row, kind, idx) generations of a run are not stored yet.

    ``missing`` lists them all, as ``(row, kind, idx)`` tuples.
    """

    def __init__(self, run_id: str, missing: Sequence[tuple[int, str, int]]) -> None:
        self.run_id = run_id
        self.missing = list(missing)
        shown = ", ".join(map(str, self.missing[:5]))
        more = f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else ""
        super().__init__(
            f"run {run_id!r} lacks {len(self.missing)} generation(s) (row, kind, idx): "
            f"{shown}{more}. Resume it with lmuq.storage.resume.generate_with_store "
            "to generate only those."
        )
