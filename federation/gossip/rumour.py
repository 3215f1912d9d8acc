"""Membership rumours as data, and SWIM's rule for which of two rumours wins.

An `Update` says "peer P is Alive / Suspect / Dead at incarnation i". Between
two rumours about the same peer the greater ``(incarnation, rank)`` wins, with
Alive < Suspect < Dead at equal incarnation: so Alive at a higher incarnation
overrides Suspect (a refutation), Suspect overrides Alive of the same
incarnation, and Dead overrides anything of equal or lower incarnation.
Because the winner is a maximum, any order of the same rumours ends in the
same belief — the property gossip needs, since it delivers in no fixed order.
Only P itself raises P's incarnation, which is what makes refutation work.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: The loop stores the incarnation in SQLite (signed 64-bit); an accusation at
#: or above this could not be refuted, so such rumours are dropped.
MAX_INCARNATION = 2**63 - 1


class MemberState(enum.Enum):
    """What we believe about a member; declaration order is precedence order."""

    ALIVE = "alive"
    SUSPECT = "suspect"
    DEAD = "dead"

    @property
    def rank(self) -> int:
        """Tie-break at equal incarnation: Dead beats Suspect beats Alive."""
        return _RANK[self]


_RANK = {MemberState.ALIVE: 0, MemberState.SUSPECT: 1, MemberState.DEAD: 2}


@dataclass(frozen=True, slots=True)
class Update:
    """A rumour: ``peer_id`` is ``state`` at ``incarnation``.

    ``accuser`` names who suspected (Suspect only): distinct accusers are the
    independent confirmations that shorten a suspicion. It plays no part in
    precedence.
    """

    peer_id: str
    state: MemberState
    incarnation: int
    accuser: str | None = None

    @property
    def precedence(self) -> tuple[int, int]:
        """Between two rumours about one peer, the greater wins."""
        return (self.incarnation, self.state.rank)

    def overrides(self, state: MemberState, incarnation: int) -> bool:
        """Whether this rumour replaces the belief ``state`` at ``incarnation``."""
        return self.precedence > (incarnation, state.rank)


def refuted_incarnation(own: int, rumour: Update) -> int:
    """Our incarnation after hearing ``rumour`` about ourselves.

    An accusation at ``i ≥ own`` is answered at ``i + 1``; our own Alive from
    an earlier life (restarted without the stored value) is adopted. Being
    ``max(own, Alives, accusations + 1)``, it too ignores arrival order.
    """
    if rumour.state is MemberState.ALIVE:
        return max(own, rumour.incarnation)
    return max(own, rumour.incarnation + 1)
