"""Version helpers for .ci/run: the lower bounds of pyproject.toml, and a check that versions stayed.

    python .ci/versions.py lower-bounds [--extra test] [--skip NAME ...]
        prints `name==lower` for each dependency with a `>=` bound (a pip
        constraints file: the lowest versions the ranges allow)
    python .ci/versions.py kept REPORT NAME ...
        exits 1 with one `error:` line if the `pip install --dry-run --report`
        REPORT would install (so replace) any of the named packages
    python .ci/versions.py check NAME==VERSION ...
        exits 1 with one `error:` line unless each package is installed at
        exactly that version (run it with the Python being checked)

Standard library and `packaging` only.
"""

import argparse
import importlib.metadata
import json
import os
import sys

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyproject.toml")


def declared(extras=(), path=PYPROJECT):
    """The `Requirement`s of the project's dependencies and of the named extras.

    Extras the project names itself (`keras-s11[export]`) are followed; the
    project is not among the results.
    """
    with open(path, "rb") as f:
        project = tomllib.load(f)["project"]
    own = canonicalize_name(project["name"])
    found, todo, done = [], [Requirement(text) for text in project["dependencies"]], set()
    todo += [Requirement(f"{own}[{extra}]") for extra in extras]
    while todo:
        req = todo.pop(0)
        if canonicalize_name(req.name) != own:
            found.append(req)
            continue
        for extra in sorted(set(req.extras) - done):
            done.add(extra)
            todo += [Requirement(text) for text in project["optional-dependencies"][extra]]
    return found


def lower_bounds(requirements, skip=()):
    """`name==version` for each requirement's `>=` bound, in the order given."""
    skip = {canonicalize_name(name) for name in skip}
    lines = []
    for req in requirements:
        bounds = [spec.version for spec in req.specifier if spec.operator == ">="]
        if bounds and canonicalize_name(req.name) not in skip:
            lines.append(f"{req.name}=={bounds[0]}")
    return lines


def changed(expected):
    """The `name==version` pins of `expected` that the running Python does not have, described."""
    wrong = []
    for pin in expected:
        name, version = pin.split("==")
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found = "not installed"
        if found != version:
            wrong.append(f"{name} {found} (expected {version})")
    return wrong


def replaced(report_path, names):
    """`name version` of each of `names` that a pip installation report installs."""
    with open(report_path) as f:
        installs = [item["metadata"] for item in json.load(f)["install"]]
    names = {canonicalize_name(name) for name in names}
    return [f"{m['name']} {m['version']}" for m in installs if canonicalize_name(m["name"]) in names]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    low = commands.add_parser("lower-bounds")
    low.add_argument("--extra", action="append", default=[])
    low.add_argument("--skip", nargs="*", default=[])
    kept = commands.add_parser("kept")
    kept.add_argument("report")
    kept.add_argument("names", nargs="+")
    check = commands.add_parser("check")
    check.add_argument("pins", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "lower-bounds":
        print("\n".join(lower_bounds(declared(args.extra), args.skip)))
        return 0
    if args.command == "kept":
        wrong = replaced(args.report, args.names)
        if wrong:
            print(f"error: pip install would replace {', '.join(wrong)}", file=sys.stderr)
            return 1
        print(f"pip install keeps {', '.join(args.names)}")
        return 0
    wrong = changed(args.pins)
    if wrong:
        print(f"error: the installed versions changed: {', '.join(wrong)}", file=sys.stderr)
        return 1
    print("kept: " + ", ".join(args.pins))
    return 0


if __name__ == "__main__":
    sys.exit(main())
