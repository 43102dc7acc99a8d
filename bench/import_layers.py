"""Count import loops and upward imports in azuremlcore and azuremlmlflow (the graph import-linter checks).

    python bench/import_layers.py            # the figures, without and with type-hint imports
    python bench/import_layers.py -v         # ... and every loop and upward import

A *loop* is a strongly connected group of two or more files (each reaches every other through
imports); a loop *across folders* has files in more than one folder. An *upward import* goes from
a file on a lower floor of `LAYERS` to one on a higher floor. Imports made only for type hints
(under ``TYPE_CHECKING``) are left out of the first line, as the contracts in setup.cfg leave them
out, and counted in the second; imports inside functions count. The floors here and the
`[importlinter]` contracts say the same thing: change both together.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import grimp

PACKAGES = ("azuremlcore", "azuremlmlflow")

# Floors, top to bottom: (name, module prefixes). A module is on the floor of the longest prefix that
# is the module itself or one of its packages: below `azuremlcore` that is the public faces unless a
# more specific prefix (a machinery folder, a leaf, ...) names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # _startup is the start-of-process hook (.pth, job bootstrap): an entry point, like the CLI.
    ("applications", ("azuremlcore._cli", "azuremlcore.server", "azuremlcore._startup")),
    ("bridge", ("azuremlmlflow",)),
    ("public", ("azuremlcore",)),  # the package root, the azureml.core mirrors and data/
    ("machinery", tuple(f"azuremlcore.{p}" for p in
                        ("_execution", "_environments", "_data", "_serving", "_tracking", "_client"))),
    ("store", ("azuremlcore._store",)),
    ("leaves", tuple(f"azuremlcore.{p}" for p in
                     ("exceptions", "_config", "_timeutil", "_snapshot", "_startup_names", "_version"))),
]


def floor_of(module: str) -> int:
    """The index in `LAYERS` of `module`'s floor (the most specific prefix wins)."""
    best, best_len = None, -1
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise ValueError(f"{module} is on no floor")
    return best


def build_graph(type_checking: bool = False) -> grimp.ImportGraph:
    """The import graph of both packages; with `type_checking`, imports made only for type hints too."""
    # No cache: a cached graph can lag behind edited files, and building this one takes well under a second.
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=not type_checking, cache_dir=None)


def edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    """Each module of the packages -> the modules of the packages it imports."""
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}


def loops(succ: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in succ:
        if root in index:
            continue
        work = [(root, iter(sorted(succ[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(succ.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def folder_of(graph: grimp.ImportGraph, module: str) -> str:
    """The package a module's file sits in (a package's own __init__ sits in that package)."""
    return module if graph.find_children(module) else module.rpartition(".")[0]


@dataclass
class Report:
    """What `measure` found."""

    loops: list[list[str]]
    cross_folder_loops: list[list[str]]
    upward: list[tuple[str, str]]


def measure(graph: grimp.ImportGraph | None = None) -> Report:
    """Loops (all, and those spanning folders) and upward imports of the current code."""
    graph = graph or build_graph()
    succ = edges(graph)
    groups = loops(succ)
    cross = [g for g in groups if len({folder_of(graph, m) for m in g}) > 1]
    upward = sorted((a, b) for a, bs in succ.items() for b in bs if floor_of(a) > floor_of(b))
    return Report(groups, cross, upward)


def main(argv: list[str] | None = None) -> int:
    """Print the figures (and with -v the details); exit 0 whatever they are."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every loop and upward import")
    args = parser.parse_args(argv)
    for label, type_checking in (("imports", False), ("with type-hint imports", True)):
        report = measure(build_graph(type_checking))
        files = sum(len(g) for g in report.loops)
        cross_files = sum(len(g) for g in report.cross_folder_loops)
        print(f"{label}: {len(report.loops)} loops of {files} files "
              f"({len(report.cross_folder_loops)} of {cross_files} files across folders), "
              f"{len(report.upward)} upward imports")
    report = measure()
    if args.verbose:
        for group in report.loops:
            print(f"\nloop of {len(group)}:\n  " + "\n  ".join(group))
        print()
        for importer, imported in report.upward:
            print(f"up: {importer} ({LAYERS[floor_of(importer)][0]}) -> {imported} ({LAYERS[floor_of(imported)][0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
