"""The structure of the project: documentation that resolves and is current, and the one-way dependency
rule of docs/architecture.md (servers ↛ harness/conformance, harness ↛ servers/conformance, no import cycles,
modules of at most 400 lines, test modules that share code through tests/support/ only)."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.settings import ROOT

PACKAGES = ("servers", "harness", "conformance", "cli")
MAX_LINES = 400

PROCESS_WORDS = re.compile(r"issue\s+[0-9]|done\s+when|the\s+seed's|seed\s+project", re.IGNORECASE)

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


# -- documentation ------------------------------------------------------------------------------------------
def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def strip_code(text: str) -> str:
    """Markdown without fenced code blocks and inline code (links inside code are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    out = set()
    for line in re.sub(r"^```.*?^```", "", path.read_text(), flags=re.DOTALL | re.MULTILINE).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(strip_code(path.read_text())):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked here (no network in tests)
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{path.name}: {target} (no such file)")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{path.name}: {target} (no such heading)")
    return broken


def test_the_link_checker_reports_a_missing_file_and_a_missing_heading(tmp_path):
    """The link check can fail: a link to a file that does not exist, or to a heading it lacks, is reported;
    links inside code and external links are not links to check."""
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md) [ok](other.md#a-code-heading) [gone](missing.md) [bad](other.md#nope)\n"
                    "`[in code](missing.md)` [web](https://example.com/x.md)\n")
    assert broken_links(page) == ["page.md: missing.md (no such file)", "page.md: other.md#nope (no such heading)"]


def test_every_link_in_the_readme_and_docs_resolves():
    """Every relative link of README.md and docs/*.md names a file that exists, and a heading of it when
    the link has an anchor."""
    broken = [b for p in markdown_files() for b in broken_links(p)]
    assert not broken, "\n".join(broken)


def test_readme_is_an_entry_point_of_at_most_200_lines():
    """The README says what oauthlab is, the two fresh-machine commands first, and links to docs/."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    commands = [line for line in text.splitlines() if line.startswith("pip install")]
    assert commands[:2] == [
        'pip install -e . && python run.py conformance          # install, start every server, attack them all, '
        'print the checklist',
        'pip install -e ".[test]" && python -m pytest -q        # the test suite (Chromium and redis-server: see '
        'docs/testing.md)']
    assert "docs/architecture.md" in text and "docs/catalog.md" in text


def test_the_catalog_page_is_the_generated_one():
    """docs/catalog.md is exactly what ``python run.py conformance --list --format markdown`` prints, so the
    published catalog never drifts from the code."""
    out = subprocess.run([sys.executable, "run.py", "conformance", "--list", "--format", "markdown"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (ROOT / "docs" / "catalog.md").read_text() == out.stdout, (
        "docs/catalog.md is stale: python run.py conformance --list --format markdown > docs/catalog.md")


# -- imports --------------------------------------------------------------------------------------------------
def module_files() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(path: Path, module: str, is_package: bool) -> set[str]:
    """Absolute names of what a module imports (at any depth, lazy imports included; not under
    ``if TYPE_CHECKING:``), with ``from X import y`` giving ``X.y`` as well as ``X``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and is_type_checking(node)
            for n in ast.walk(node)}
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    graph = {}
    for name, path in files.items():
        deps = set()
        for imported in imported_names(path, name, path.name == "__init__.py"):
            if imported in files and imported != name and not name.startswith(imported + "."):
                deps.add(imported)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_checker_finds_a_cycle():
    """The cycle check can fail: two modules importing each other are one cycle."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [frozenset({"a", "b"})]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    """No module imports, directly or through others, a module that imports it back."""
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


@pytest.mark.parametrize("side, forbidden", [("servers", ("harness", "conformance")),
                                             ("harness", ("servers", "conformance"))])
def test_imports_run_one_way(side, forbidden):
    """docs/architecture.md: servers never import harness or conformance; the harness never imports servers
    or conformance (it talks to every target over HTTP only)."""
    wrong = sorted(f"{module} imports {dep}" for module, deps in import_graph().items()
                   if module.split(".")[0] == side for dep in deps if dep.split(".")[0] in forbidden)
    assert not wrong, "\n".join(wrong)


def test_no_server_imports_another_server():
    """A server imports servers/common, never another server's modules."""
    graph = import_graph()
    own = {name.split(".")[1] for name in graph if name.startswith("servers.") and name.count(".") >= 1}
    servers = own - {"common", "registry", "static"}
    wrong = sorted(f"{module} imports {dep}" for module, deps in graph.items() if module.startswith("servers.")
                   for dep in deps if dep.startswith("servers.") and dep.count(".") >= 1
                   and dep.split(".")[1] in servers and dep.split(".")[1] != module.split(".")[1])
    assert not wrong, "\n".join(wrong)


def test_no_module_is_over_400_lines():
    """One job per module: no module of servers/, harness/, conformance/ or cli/ is over 400 lines."""
    long = sorted(f"{path.relative_to(ROOT)}: {n} lines" for path in module_files().values()
                  if (n := len(path.read_text().splitlines())) > MAX_LINES)
    assert not long, "\n".join(long)


def test_test_modules_import_no_other_test_module():
    """Shared test code lives in tests/support/; a test module never imports another test module."""
    wrong = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        module = f"tests.{path.stem}"
        for imported in imported_names(path, module, False):
            if re.fullmatch(r"tests\.test_\w+", imported) and imported != module:
                wrong.append(f"{module} imports {imported}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def project_texts() -> list[Path]:
    """The project's own text files: code, docs, profiles and static pages (no caches, no installed copies)."""
    roots = [ROOT / name for name in ("servers", "harness", "conformance", "cli", "tests", "bench", "docs", "keys")]
    files = [ROOT / "README.md", ROOT / "run.py", ROOT / "pyproject.toml"]
    for root in roots:
        files += [p for p in root.rglob("*") if p.suffix in (".py", ".md", ".toml", ".js", ".html")
                  and "__pycache__" not in p.parts and "node_modules" not in p.parts]
    return sorted(p for p in files if p.is_file())


def test_the_product_speaks_of_the_product():
    """Code, comments, docstrings, tests and docs speak of the product, not of how its work was organised."""
    found = [f"{path.relative_to(ROOT).as_posix()}:{n}: {line.strip()[:100]}" for path in project_texts()
             for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if PROCESS_WORDS.search(line)]
    assert not found, "\n".join(found)
