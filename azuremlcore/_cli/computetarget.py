"""`aml computetarget list|show|delete|detach|create amlcompute|create computeinstance|attach ray`.

As `az ml computetarget`; `attach ray` attaches a Ray cluster by its dashboard URL (the only remote
compute the SDK attaches).
"""
from __future__ import annotations

import argparse
from typing import Any

from azuremlcore._cli._base import Subparsers, command, group, key_values

SECTION = "Assets"
HELP = "Commands to manage compute targets (they run jobs on this machine, the server's host or a Ray cluster)."
TOP = {"computetarget": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers
# serialize() output: {id, name, location, tags, properties: <the stored definition>}
TABLE = [("Name", "name"), ("Type", "properties.computeType"), ("State", "properties.provisioningState"),
         ("VmSize", "properties.properties.vmSize"), ("MinNodes", "properties.properties.scaleSettings.minNodeCount"),
         ("MaxNodes", "properties.properties.scaleSettings.maxNodeCount")]
# `show -v` adds the live status: a Ray cluster's nodes and address, a cluster's nodes in use.
SHOW_TABLE = [*TABLE, ("Nodes", "status.currentNodeCount"), ("Address", "properties.properties.address")]


def _target(args: argparse.Namespace) -> Any:
    from azuremlcore._cli._base import CLIError
    from azuremlcore._cli._workspace import workspace

    ws = workspace(args)
    found = ws.compute_targets.get(args.name)
    if found is None:
        raise CLIError(f"No compute target '{args.name}' in workspace '{ws.name}': see them with aml computetarget "
                       "list ('local' needs none).")
    return found


def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.compute import ComputeTarget

    return [t.serialize() for t in ComputeTarget.list(workspace(args))]


def _show(args: argparse.Namespace) -> dict[str, Any]:
    target = _target(args)
    data = target.serialize()
    if args.verbose_status and hasattr(target, "get_status"):
        status = target.get_status()
        data["status"] = status.serialize() if hasattr(status, "serialize") else status
    return data


def _delete(args: argparse.Namespace) -> None:
    _target(args).delete()


def _attach_ray(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.compute import ComputeTarget, RayCompute

    shared = {"yes": True, "no": False}.get(args.shared_file_system or "")
    config = RayCompute.attach_configuration(address=args.address, shared_file_system=shared)
    return ComputeTarget.attach(workspace(args), args.name, config).serialize()


def _detach(args: argparse.Namespace) -> None:
    _target(args).detach()


def _create_amlcompute(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.compute import AmlCompute, ComputeTarget

    config = AmlCompute.provisioning_configuration(
        vm_size=args.vm_size or "", vm_priority=args.vm_priority, min_nodes=args.min_nodes, max_nodes=args.max_nodes,
        idle_seconds_before_scaledown=args.idle_seconds_before_scaledown, description=args.description,
        tags=key_values(args.tag, "--tag") or None)
    return ComputeTarget.create(workspace(args), args.name, config).serialize()


def _create_computeinstance(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.compute import ComputeInstance, ComputeTarget

    config = ComputeInstance.provisioning_configuration(vm_size=args.vm_size or "", description=args.description,
                                                        tags=key_values(args.tag, "--tag") or None)
    return ComputeTarget.create(workspace(args), args.name, config).serialize()


def register(sub: Subparsers) -> None:
    """Add `aml computetarget ...` to `aml`."""
    g = group(sub, "computetarget", HELP)
    name_arg: dict[str, Any] = {"metavar": "NAME", "required": True, "help": "compute target name"}

    command(g, "list", "List compute targets.", _list, table=TABLE,
            examples=[("List the compute targets.", "aml computetarget list")])

    c = command(g, "show", "Show a compute target.", _show, table=SHOW_TABLE,
                examples=[("Show a cluster with its busy and queued nodes.",
                           "aml computetarget show -n cpu-cluster -v -o json")])
    c.add_argument("-n", "--name", **name_arg)
    c.add_argument("-v", "--status", dest="verbose_status", action="store_true",
                   help="add the current status (nodes busy, runs queued)")

    c = command(g, "delete", "Delete a compute target; runs still waiting for it fail.", _delete,
                examples=[("Delete a cluster.", "aml computetarget delete -n cpu-cluster")])
    c.add_argument("-n", "--name", **name_arg)

    c = command(g, "detach", "Detach an attached compute target (the cluster itself keeps running).", _detach,
                examples=[("Forget a Ray cluster.", "aml computetarget detach -n ray-local")])
    c.add_argument("-n", "--name", **name_arg)

    ag = group(g, "attach", "Attach existing compute.")
    c = command(ag, "ray", "Attach a Ray cluster by its dashboard URL: each run becomes a Ray job.", _attach_ray,
                table=TABLE,
                examples=[("A Ray cluster whose head runs on this machine.",
                           "aml computetarget attach ray -n ray-local --address http://127.0.0.1:8265")])
    c.add_argument("-n", "--name", **name_arg)
    c.add_argument("-a", "--address", metavar="URL", required=True,
                   help="the cluster's dashboard URL (Jobs API), e.g. http://head:8265")
    c.add_argument("--shared-file-system", choices=["yes", "no"], default=None,
                   help="whether every node sees this machine's files at the same paths (needed for embedded "
                        "workspaces; default: yes for a head on loopback)")

    cg = group(g, "create", "Create a compute target.")
    c = command(cg, "amlcompute", "Create a cluster: at most --max-nodes of its runs execute at once, the rest queue.",
                _create_amlcompute, table=TABLE,
                examples=[("A cluster that runs two jobs at once.",
                           "aml computetarget create amlcompute -n cpu-cluster --max-nodes 2 -s STANDARD_D2_V2")])
    c.add_argument("-n", "--name", **name_arg)
    c.add_argument("-s", "--vm-size", metavar="SIZE", help="VM size, recorded (default: STANDARD_DS3_V2)")
    c.add_argument("--min-nodes", type=int, default=0, metavar="N", help="recorded (default: 0)")
    c.add_argument("--max-nodes", type=int, default=None, metavar="N",
                   help="how many of its runs execute at once (default: 4)")
    c.add_argument("--idle-seconds-before-scaledown", type=int, default=None, metavar="S", help="recorded")
    c.add_argument("-p", "--vm-priority", choices=["dedicated", "lowpriority"], default="dedicated",
                   help="recorded (default: dedicated)")
    c.add_argument("--description", metavar="TEXT", help="a description")
    c.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")

    c = command(cg, "computeinstance", "Create a compute instance: its runs execute at once, without a limit.",
                _create_computeinstance, table=TABLE,
                examples=[("A compute instance.", "aml computetarget create computeinstance -n my-ci")])
    c.add_argument("-n", "--name", **name_arg)
    c.add_argument("-s", "--vm-size", metavar="SIZE", help="VM size, recorded")
    c.add_argument("--description", metavar="TEXT", help="a description")
    c.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")
