"""`decnet-fed simulate`: a scenario file → sensor log, ground truth and ASN table.

Needs no node home: it writes three files into a directory and touches
nothing else. ``sensors.log`` is what `decnet-fed ingest` reads;
``truth.json`` is what the clusterer is scored against; ``ip2asn.tsv`` is
for ``[enrichment] ip2asn_path``. Files left by an earlier run are
refused unless ``--force``, so a truth is never silently replaced.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import orjson

from node.cli.hooks import CommandAdder
from node.cli.render import print_json, print_pairs
from node.errors import CommandError
from node.simulate.generate import generate
from node.simulate.render import render_lines
from node.simulate.scenario import load_scenario
from node.simulate.truth import ip2asn_lines, observations, truth_document

SENSORS_LOG = "sensors.log"
TRUTH_JSON = "truth.json"
IP2ASN_TSV = "ip2asn.tsv"


def register_simulate_commands(add: CommandAdder) -> None:
    """Add `simulate` to the CLI."""
    simulate = add("simulate", cmd_simulate,
                   "turn an attack scenario into sensor logs with ground truth",
                   example="decnet-fed simulate scenarios/paused_campaign.yaml --seed 1 -o sim")
    simulate.add_argument("scenario", metavar="SCENARIO.yaml")
    simulate.add_argument("--seed", type=int, default=0,
                          help="random seed; the same seed gives the same files (default 0)")
    simulate.add_argument("-o", "--output", metavar="DIR", default=None,
                          help="directory for sensors.log, truth.json and ip2asn.tsv"
                               " (default ./simulated-<scenario name>)")
    simulate.add_argument("--force", action="store_true",
                          help="overwrite those files when they exist")


async def cmd_simulate(args: argparse.Namespace) -> int:
    scenario = load_scenario(Path(args.scenario))
    simulation = generate(scenario, args.seed)
    lines = render_lines(simulation)
    truth = observations(simulation)
    directory = Path(args.output) if args.output else Path(f"simulated-{scenario.name}")
    contents = {
        SENSORS_LOG: "".join(line + "\n" for line in lines).encode(),
        TRUTH_JSON: orjson.dumps(truth_document(simulation), option=orjson.OPT_INDENT_2) + b"\n",
        IP2ASN_TSV: "".join(line + "\n" for line in ip2asn_lines(simulation)).encode(),
    }
    _write_all(directory, contents, force=args.force)
    summary = {
        "scenario": scenario.name,
        "seed": args.seed,
        "directory": str(directory),
        "lines": len(lines),
        "sessions": len(simulation.sessions),
        "observations": len(truth),
        "identities": len({t.identity for t in truth.values()}),
        "campaigns": len({t.campaign for t in truth.values()}),
    }
    if args.json:
        print_json(summary)
    else:
        print(f"simulated {scenario.name!r} (seed {args.seed}) into {directory}")
        print_pairs([(name, summary[name]) for name in
                     ("lines", "sessions", "observations", "identities", "campaigns")])
    return 0


def _write_all(directory: Path, contents: dict[str, bytes], *, force: bool) -> None:
    """Write each file whole (temporary file, then rename), after checking none is in the way."""
    if not force:
        for name in contents:
            if (directory / name).exists():
                raise CommandError(f"{directory / name} exists: pass --force to overwrite it,"
                                   " or -o to write somewhere else")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
            try:
                with os.fdopen(fd, "wb") as stream:
                    stream.write(data)
                os.replace(temporary, directory / name)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
    except OSError as exc:
        raise CommandError(f"cannot write {exc.filename or directory}:"
                           f" {exc.strerror or exc}") from None
