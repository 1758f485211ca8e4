"""The Ray backend's progress mailbox, kept apart from everything heavy: its actor starts in a
fresh worker process, which imports only this module (not JAX), so the driver hears from the
tasks seconds after they start."""

from __future__ import annotations


class Reporter:
    """Collects the tasks' progress events until the driver drains them."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def post(self, event: tuple) -> None:
        self.events.append(event)

    def drain(self) -> list[tuple]:
        events, self.events = self.events, []
        return events
