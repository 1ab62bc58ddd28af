"""The install: a distribution name of our own, extras that resolve per platform, a kernel-only core, and the
`latentlab` command doing what make does (`lab`, `info`)."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from latentlab import cli

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
sys.path.insert(0, str(ROOT / "tools"))
import check_platforms  # noqa: E402


def _names(requirements) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def test_the_distribution_is_not_the_unrelated_latentlab_on_the_index():
    assert PROJECT["name"] == "latentlab-notebooks"
    assert PROJECT["scripts"]["latentlab"] == "latentlab.cli:main"
    assert set(PROJECT["urls"]) == {"Repository"}
    suggests = re.compile(r"pip install (-U |--upgrade )?[\"']?latentlab(?![-_\w])")
    files = [*ROOT.glob("latentlab/**/*.py"), *ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("tools/*.py")]
    files += [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "Makefile", ROOT / "binder" / "postBuild"]
    offenders = [str(p.relative_to(ROOT)) for p in files if suggests.search(p.read_text(encoding="utf-8"))]
    assert not offenders, f"these suggest `pip install latentlab`, a stranger's package: {offenders}"


def test_the_core_is_what_a_kernel_needs_and_the_front_end_is_the_lab_extra():
    core, extras = _names(PROJECT["dependencies"]), PROJECT["optional-dependencies"]
    front_end = {"jupyterlab", "ipykernel", "nbconvert", "nbclient", "nbformat"}
    assert not core & front_end, "a hosted kernel's own front end would be replaced"
    assert _names(extras["lab"]) == front_end and "ruff" in _names(extras["test"])
    assert not core & {"tensorflow", "tensorflow-cpu"}, "the backend comes from an extra (or the hosted kernel)"


@pytest.mark.parametrize(
    "platform, extra, wanted",
    [
        ("linux-x86_64", "cpu", {"tensorflow-cpu"}),
        ("windows-amd64", "cpu", {"tensorflow-cpu"}),
        ("macos-arm64", "cpu", {"tensorflow"}),
        ("linux-x86_64", "gpu", {"tensorflow"}),
        ("macos-arm64", "gpu", {"tensorflow"}),
    ],
)
def test_extras_pick_a_tensorflow_build_that_exists_on_each_platform(platform, extra, wanted):
    environment = check_platforms.marker_environment(platform, "3.11") | {"extra": extra}
    chosen = [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    chosen = [r for r in chosen if r.marker is None or r.marker.evaluate(environment)]
    assert {r.name for r in chosen} == wanted
    assert all("and-cuda" in r.extras for r in chosen) == (extra == "gpu" and platform.startswith("linux"))


def test_the_platform_check_resolves_with_the_targets_markers(monkeypatch):
    """No index here: pip is replaced by a stand-in that records what it was asked."""
    calls = []

    class Done:
        returncode, stdout, stderr = 0, "", ""

    def fake_run(args, **kwargs):
        calls.append(args)
        report = Path(args[args.index("--report") + 1])
        report.write_text(json.dumps({"install": [{"metadata": {"name": "tensorflow_cpu", "version": "2.21.0"}}]}))
        return Done()

    monkeypatch.setattr(check_platforms.subprocess, "run", fake_run)
    report, error = check_platforms.resolve("windows-amd64", "3.12", ["x.whl[cpu]"])
    assert error == "" and check_platforms.summary(report) == {"tensorflow-cpu": "2.21.0"}
    args = calls[0]
    assert json.loads(args[3])["sys_platform"] == "win32" and json.loads(args[3])["python_version"] == "3.12"
    assert "--platform=win_amd64" in args and "--only-binary=:all:" in args and "--ignore-installed" in args
    assert args[args.index("--abi") + 1] == "cp312"
    linux = check_platforms.PLATFORMS["linux-x86_64"][0]
    assert "manylinux2014_x86_64" in linux and "manylinux_2_28_x86_64" in linux


def test_kernel_names_say_which_environment_they_are(tmp_path):
    cpu, gpu = tmp_path / ".venv", tmp_path / ".venv-gpu"
    (name_cpu, display_cpu), (name_gpu, display_gpu) = cli.kernel_identity(cpu), cli.kernel_identity(gpu)
    assert (
        name_cpu != name_gpu and name_cpu.startswith("latentlab-venv-") and name_gpu.startswith("latentlab-venv-gpu-")
    )
    assert ".venv-gpu" in display_gpu and ".venv," in display_cpu
    other_clone = cli.kernel_identity(tmp_path / "elsewhere" / ".venv")[0]
    assert other_clone != name_cpu, "two checkouts' kernels must not overwrite each other"


def test_lab_registers_the_kernel_for_this_user(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "user"))
    assert cli.main(["lab", "--register-only"]) == 0
    name, display = cli.kernel_identity()
    spec = json.loads((tmp_path / "user" / "kernels" / name / "kernel.json").read_text())
    assert spec["display_name"] == display and spec["argv"][0] == sys.executable
    assert "registered as" in capsys.readouterr().out


def test_lab_starts_jupyterlab_on_the_notebooks_with_that_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "user"))
    started = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command: started.append(command) or 0)
    assert cli.main(["lab", "--notebooks-dir", str(tmp_path), "--", "--port", "8890"]) == 0
    command = started[0]
    assert command[:3] == [sys.executable, "-m", "jupyterlab"] and command[-1] == str(tmp_path)
    assert f"--MappingKernelManager.default_kernel_name={cli.kernel_identity()[0]}" in command
    assert command[-3:-1] == ["--port", "8890"]


def test_run_and_lab_without_the_front_end_say_what_to_install(monkeypatch, capsys):
    from latentlab import runner

    def missing(module):
        def fail(*args, **kwargs):
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)

        return fail

    monkeypatch.setattr(cli, "lab", missing("jupyterlab"))
    monkeypatch.setattr(runner, "run", missing("nbclient"))
    assert cli.main(["lab"]) == 2 and cli.main(["run", "01"]) == 2
    err = capsys.readouterr().err
    assert "jupyterlab is not installed" in err and "nbclient is not installed" in err
    assert ".[cpu,offline,lab]" in err and "latentlab-notebooks[cpu,lab]" in err


def test_info_reports_backend_profile_and_each_datasets_source(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    monkeypatch.setenv("LATENTLAB_PROFILE", "smoke")
    monkeypatch.setenv("LATENTLAB_OFFLINE", "1")
    (tmp_path / "mnist.npz").write_bytes(b"")  # a local copy wins (info only looks, never reads)
    (tmp_path / "atd12k").mkdir()
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backend: Keras" in out and "profile: smoke (LATENTLAB_PROFILE)" in out
    assert f"MNIST    local: {tmp_path / 'mnist.npz'}" in out and f"ATD-12K  local: {tmp_path / 'atd12k'}" in out
    assert "MPI3D    synthetic" in out and "offline: yes" in out and "CelebA" in out


def test_make_calls_the_command_and_lints_before_testing():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab: install\n\t\$\(BIN\)/latentlab lab$", makefile, re.M)
    assert re.search(r"^info: install\n\t\$\(BIN\)/latentlab info$", makefile, re.M)
    assert re.search(r"^test: install-test lint ", makefile, re.M)
    assert "ruff check $(LINTED)" in makefile and "ruff format --check $(LINTED)" in makefile
    assert re.search(r'pip install --quiet -e "\.\[\$\(EXTRAS\),offline,lab\]"', makefile)
    assert "ipykernel install" not in makefile, "`latentlab lab` registers the kernel (--user, a name per environment)"


def test_binder_builds_from_its_own_folder():
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "postBuild must be executable"
    text = post.read_text()
    assert "pip install --no-cache-dir --no-deps -e ." in text and "-r requirements-offline.txt" in text


def test_contributing_records_the_platform_check():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text[text.index("## Platforms") :]
    for platform in check_platforms.PLATFORMS:
        assert f"ok   {platform}, Python 3.11, latentlab_notebooks[cpu,offline,lab,test]" in section
    assert "all resolve" in section
