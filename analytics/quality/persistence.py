"""Open after N consecutive bad judgements, clear after M good ones: the debounce every
multi-metric detector here shares, so one odd instant neither opens nor clears an alert."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Debounce:
    open_after: int
    clear_after: int
    bad: int = 0
    good: int = 0
    active: bool = False

    def update(self, bad: bool) -> bool | None:
        """True when the alert should open now, False when it should clear, else None."""
        if bad:
            self.bad += 1
            self.good = 0
            if not self.active and self.bad >= self.open_after:
                self.active = True
                return True
        else:
            self.good += 1
            self.bad = 0
            if self.active and self.good >= self.clear_after:
                self.active = False
                return False
        return None
