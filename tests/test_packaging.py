"""The installed package: one import package, `keras_s11`, with the callbacks as `keras_s11.callbacks`.

The package is installed from a copy of the files it is built from, into a
temporary target (the tree and the Python of this machine are left alone),
and imported in a child process from a folder that has its own
`callbacks.py`, as a user's notebook folder may.
"""

import ast
import json
import os
import shutil
import subprocess
import sys

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(ROOT, "requirements-lock.txt")
SOURCES = ("keras_s11", "callbacks", "scripts", "tests", "benchmarks")

# Run in the user's folder: its own `callbacks` must stay its own.
CHILD = """
import json, sys
{setup}
import callbacks
import keras_s11
import keras_s11.callbacks
from keras_s11.callbacks import LRRangeTest, OneCycle
from keras_s11.lr_finder import find_lr_range
print(json.dumps({{
    "user_callbacks": callbacks.__file__,
    "keras_s11": keras_s11.__file__,
    "keras_s11_callbacks": keras_s11.callbacks.__file__,
    "same_class": LRRangeTest is sys.modules["keras_s11.callbacks.lr_range_test"].LRRangeTest,
    "generic": sorted(name for name in ("callbacks.one_cycle", "scripts", "tests") if name in sys.modules),
}}))
"""


def copy_project(target):
    """The files a build reads, copied (the worktree gets no build/ or egg-info)."""
    target.mkdir()
    for name in ("keras_s11", "callbacks"):
        shutil.copytree(os.path.join(ROOT, name), target / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), target / name)
    return target


def pip_install(*args):
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def user_folder(tmp_path):
    folder = tmp_path / "notebook"
    folder.mkdir()
    (folder / "callbacks.py").write_text("MINE = True\n")
    return folder


def run_child(folder, setup="", env=None):
    env = dict(os.environ if env is None else env, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-c", CHILD.format(setup=setup)], cwd=folder, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def source_packages():
    """Import names of the packages in the tree: keras_s11's folders, and callbacks/."""
    found = {"keras_s11.callbacks"}
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, "keras_s11")):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        if "__init__.py" in filenames:
            found.add(os.path.relpath(dirpath, ROOT).replace(os.sep, "."))
    return found


def test_pip_install_gives_one_package_whose_callbacks_do_not_clash(tmp_path):
    project, target = copy_project(tmp_path / "project"), tmp_path / "site"
    pip_install("--target", str(target), str(project))

    installed = sorted(os.listdir(target))
    assert [name for name in installed if not name.endswith(".dist-info")] == ["keras_s11"], installed
    packages = {
        os.path.relpath(dirpath, target).replace(os.sep, ".")
        for dirpath, _, filenames in os.walk(target / "keras_s11")
        if "__init__.py" in filenames
    }
    assert packages == source_packages()  # pyproject.toml lists every package of the tree
    modules = [
        sorted(name for name in os.listdir(folder) if name.endswith(".py"))
        for folder in (target / "keras_s11" / "callbacks", os.path.join(ROOT, "callbacks"))
    ]
    assert modules[0] == modules[1] and "one_cycle.py" in modules[0]

    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    seen = run_child(user_folder(tmp_path), env=dict(env, PYTHONPATH=str(target)))
    assert seen["user_callbacks"] == str(tmp_path / "notebook" / "callbacks.py")
    assert seen["keras_s11"] == str(target / "keras_s11" / "__init__.py")
    assert seen["keras_s11_callbacks"] == str(target / "keras_s11" / "callbacks" / "__init__.py")
    assert seen["same_class"] and seen["generic"] == []


def test_editable_install_maps_the_callbacks_folder(tmp_path):
    project, target = copy_project(tmp_path / "project"), tmp_path / "site"
    pip_install("--target", str(target), "--editable", str(project))
    pth = [name for name in os.listdir(target) if name.endswith(".pth")]
    assert pth, os.listdir(target)

    # site.addsitedir runs the .pth files as site-packages would; the editable
    # finder itself (not only the checkout fallback of keras_s11/__init__.py)
    # must know where keras_s11.callbacks lives.
    # An editable install of the project in this Python (as CI makes) is set
    # aside first: its finder module has the same name as the new one's, so
    # the target also goes first on sys.path.
    setup = (
        "ours = lambda f: 'editable' in getattr(f, '__module__', '') and 'keras_s11' in f.__module__\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if not ours(f)]\n"
        "[sys.modules.pop(n) for n in list(sys.modules) if n.startswith('__editable__') and 'keras_s11' in n]\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        f"import site; site.addsitedir({str(target)!r})\n"
        "finders = [f for f in sys.meta_path if 'editable' in getattr(f, '__module__', '')]\n"
        "mapped = [f.find_spec('keras_s11.callbacks', None) for f in finders]\n"
        "assert [s.origin for s in mapped if s] and all(s is None or s.origin.endswith("
        "'/callbacks/__init__.py') for s in mapped), mapped\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    seen = run_child(user_folder(tmp_path), setup=setup, env=env)
    assert seen["user_callbacks"] == str(tmp_path / "notebook" / "callbacks.py")
    assert seen["keras_s11"] == str(project / "keras_s11" / "__init__.py")
    assert seen["keras_s11_callbacks"] == str(project / "callbacks" / "__init__.py")
    assert seen["same_class"] and seen["generic"] == []


def imported_names(path):
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


@pytest.mark.parametrize("folder", SOURCES)
def test_no_code_imports_the_generic_top_level_names(folder):
    """`callbacks` is imported as keras_s11.callbacks everywhere; the library never imports scripts/ or tests/."""
    banned = {"callbacks", "scripts", "tests", "benchmarks"}
    if folder in ("tests", "benchmarks", "scripts"):
        banned -= {"tests"}  # tests import their own helpers
    for dirpath, _, filenames in os.walk(os.path.join(ROOT, folder)):
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                bad = [module for module in imported_names(path) if module.split(".")[0] in banned]
                assert not bad, (path, bad)


def test_callbacks_and_library_import_in_either_order():
    """No import cycle: each side imports first in a fresh process."""
    for first, second in (
        ("keras_s11.callbacks", "keras_s11.lr_finder"),
        ("keras_s11.lr_finder", "keras_s11.callbacks"),
    ):
        code = f"import {first}, {second}; import keras_s11.training, keras_s11.config"
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]


# --- versions: ranges in pyproject.toml, exact versions in requirements-lock.txt -----------------


def declared(*extras):
    """The project's requirements, with those of `extras` and of the extras it names itself (`keras-s11[export]`)."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    own = canonicalize_name(project["name"])
    found, todo, done = [], [*project["dependencies"], *(f"{own}[{extra}]" for extra in extras)], set()
    while todo:
        requirement = Requirement(todo.pop(0))
        if canonicalize_name(requirement.name) != own:
            found.append(requirement)
            continue
        for extra in sorted(set(requirement.extras) - done):
            done.add(extra)
            todo += project["optional-dependencies"][extra]
    return found


def locked():
    """`{canonical name: Version}` of the lock file, which holds nothing but `name==version` lines."""
    versions = {}
    with open(LOCK) as f:
        for number, line in enumerate(f, 1):
            line = line.split("#")[0].strip()
            if not line:
                continue
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==" and not requirement.extras and not requirement.marker, (number, line)
            name = canonicalize_name(requirement.name)
            assert name not in versions, f"{requirement.name} locked twice"
            versions[name] = Version(spec.version)
    return versions


def test_every_locked_version_is_within_the_declared_ranges():
    versions = locked()
    requirements = declared("test", "dev", "gpu")
    assert len(requirements) >= 18
    outside = [
        f"{req.name}: locked {versions[canonicalize_name(req.name)]}, declared {req.specifier}"
        for req in requirements
        if canonicalize_name(req.name) in versions and versions[canonicalize_name(req.name)] not in req.specifier
    ]
    assert not outside, outside


def test_every_direct_dependency_is_locked():
    versions = locked()
    missing = [str(req) for req in declared("test", "dev") if canonicalize_name(req.name) not in versions]
    assert not missing, missing
    # The backends CI adds for the JAX and PyTorch tests come from the lock file too.
    assert {"torch", "jax", "jaxlib"} <= set(versions)


def test_ranges_name_lower_bounds_down_to_a_notebook_hosts_stack():
    """TensorFlow 2.19, Keras 3.10 and NumPy 2.0 at least; no `==` pins (the lock file holds those)."""
    requirements = {canonicalize_name(req.name): req.specifier for req in declared("test", "dev", "gpu")}
    for name, oldest in (("tensorflow", "2.19.0"), ("keras", "3.10.0"), ("numpy", "2.0.2")):
        assert Version(oldest) in requirements[name], (name, requirements[name])
    pinned = [f"{name}{spec}" for name, spec in requirements.items() if any(s.operator == "==" for s in spec)]
    assert not pinned, pinned
    # Every range has a lower bound, which CI's notebook-host job installs.
    assert all(any(s.operator == ">=" for s in spec) for spec in requirements.values()), requirements


def test_the_requirements_files_install_the_project_with_the_lock_file():
    for name, target in (("requirements.txt", "-e ."), ("requirements-dev.txt", "-e .[dev]")):
        with open(os.path.join(ROOT, name)) as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        assert lines == ["-c requirements-lock.txt", target], (name, lines)
