"""The API reference page documents every public module of lm_sims and lm_sims.viz:
a new module that the page forgets would be invisible to readers of the book."""

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import lm_sims
import lm_sims.viz

API_PAGE = Path(__file__).parents[1] / "book" / "api.md"


def _public_modules(package) -> set[str]:
    return {
        f"{package.__name__}.{m.name}"
        for m in pkgutil.iter_modules(package.__path__)
        if not m.name.startswith("_")
    }


def test_every_public_module_is_on_the_api_page():
    documented = set(re.findall(r"automodule:: (\S+)", API_PAGE.read_text()))
    public = (_public_modules(lm_sims) | _public_modules(lm_sims.viz)) - {"lm_sims.viz"}
    assert len(public) >= 15, public  # discovery works: not vacuous
    assert public <= documented, sorted(public - documented)
    # and the page names no module that does not exist
    assert documented <= public, sorted(documented - public)


# napoleon reads a first line "Words: more words" of an attribute docstring as
# "type: description" and Sphinx then fails (-W) on the unknown type "Words"; two
# such comments reached a full book build before being caught (PITFALLS.md)
_FIELD_LIST_LIKE = re.compile(r"^[^:`]*[A-Za-z)'] ?: \S")


def _attribute_docstrings(source: str) -> list[tuple[int, str]]:
    """First lines of ``#:`` comment blocks and of property docstrings."""
    found, previous = [], ""
    for i, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if text.startswith("#:") and not previous.startswith("#:"):
            found.append((i, text[2:].strip()))
        previous = text
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
        ):
            doc = ast.get_docstring(node)
            if doc:
                found.append((node.lineno, doc.splitlines()[0]))
    return found


def test_attribute_comments_do_not_read_as_field_lists():
    root = Path(lm_sims.__file__).parent
    bad = []
    for path in sorted(root.rglob("*.py")):
        for line, first in _attribute_docstrings(path.read_text()):
            if _FIELD_LIST_LIKE.match(first):
                bad.append(f"{path.relative_to(root)}:{line}: {first}")
    assert not bad, bad


def test_the_field_list_check_can_fail():
    assert _FIELD_LIST_LIKE.match("Gradient flow's RK4 substeps per step: ``m = 1``")
    assert _FIELD_LIST_LIKE.match("Number of outputs: 1 or 10")
    assert not _FIELD_LIST_LIKE.match("Datasets accepted by :class:`Config`.")
    assert not _FIELD_LIST_LIKE.match("The number of outputs, 1 or 10.")


# Sphinx splits a "Raises:" entry's name on commas, "or" and "|" and links each part
# as an exception; "TypeError / ValueError:" or a wrapped description line that
# reads "word; more: text" became unknown exceptions and failed the -W -n build.
_XREF_SPLIT = re.compile(r"\s*[\[\](),]\s*|\s+or\s+|\s*\|\s*")
_RAISES_ENTRY = re.compile(r"^(\s*)(\S[^:]*):(\s|$)")


def _raises_names(doc: str) -> list[str]:
    """The exception names of each entry in a Google-style "Raises:" section."""
    lines = doc.expandtabs().splitlines()
    names = []
    for i, line in enumerate(lines):
        if line.strip() != "Raises:":
            continue
        outer = len(line) - len(line.lstrip())
        entry_indent = None
        for body in lines[i + 1 :]:
            if not body.strip():
                continue
            indent = len(body) - len(body.lstrip())
            if indent <= outer:
                break
            if entry_indent is None:
                entry_indent = indent
            if indent == entry_indent:
                m = _RAISES_ENTRY.match(body)
                names.append(m.group(2) if m else body.strip())
    return names


def _bad_exception_names(doc: str) -> list[str]:
    bad = []
    for name in _raises_names(doc):
        for part in filter(None, _XREF_SPLIT.split(name.strip())):
            leaf = part.rsplit(".", 1)[-1]
            if not re.fullmatch(r"[A-Z]\w*(Error|Exception|Warning)", leaf):
                bad.append(name)
                break
    return bad


def _docstrings(module):
    tree = ast.parse(Path(module.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc and not node.name.startswith("_"):
                yield node.name, doc


def test_raises_sections_name_only_exceptions():
    bad = []
    for name in sorted(_public_modules(lm_sims) | _public_modules(lm_sims.viz)):
        module = importlib.import_module(name)
        for obj, doc in _docstrings(module):
            bad += [f"{name}.{obj}: {e!r}" for e in _bad_exception_names(doc)]
    assert not bad, bad


def test_the_raises_check_can_fail():
    doc = "Do it.\n\nRaises:\n    TypeError / ValueError: bad.\n    ValueError: a\n"
    assert _bad_exception_names(doc) == ["TypeError / ValueError"]
    wrapped = "Raises:\n    ValueError: as f; ``y`` of the\n    length; M > P: x\n"
    assert _bad_exception_names("X.\n\n" + wrapped) == ["length; M > P"]
    ok = "X.\n\nRaises:\n    ValueError, TypeError: a\n        more: text\n"
    assert _bad_exception_names(ok) == []


# :data:`NAME` links only to module constants that autodoc documents, i.e. that
# carry a "#:" comment; two undocumented targets failed the -W -n book build.
_DATA_ROLE = re.compile(r":data:`~?([\w.]+)`")


def _documented_constants(source: str) -> set[str]:
    lines = source.splitlines()
    names = set()
    for i, line in enumerate(lines):
        m = re.match(r"^([A-Z_][A-Z0-9_]*)\s*(:[^=]*)?=", line)
        if m and i > 0 and lines[i - 1].lstrip().startswith("#:"):
            names.add(m.group(1))
    return names


def test_data_roles_point_at_documented_constants():
    root = Path(lm_sims.__file__).parent
    sources = {p: p.read_text() for p in sorted(root.rglob("*.py"))}
    documented = {}
    for path, text in sources.items():
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        documented[module] = _documented_constants(text)
    bad = []
    for path, text in sources.items():
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for target in _DATA_ROLE.findall(text):
            owner, _, name = target.rpartition(".")
            if name not in documented.get(owner or module, set()):
                bad.append(f"{path.relative_to(root)}: :data:`{target}`")
    assert not bad, bad


def test_the_data_role_check_can_fail():
    assert _documented_constants("#: doc\nA = 1\nB = 2\n") == {"A"}
    assert _DATA_ROLE.findall("see :data:`X` and :data:`~m.Y`") == ["X", "m.Y"]


# docutils reads "|name|" outside a literal or math as a substitution reference
# and Sphinx fails (-W) on the undefined substitution; "(|loss_0| + 1)" in a
# ``#:`` comment and "mean |y|^2" in a docstring reached a full book build
_SUBSTITUTION = re.compile(r"(?:^|[\s(\[{<'\"])\|[^\s|]")
_LITERALS = re.compile(r"``.*?``|:math:`.*?`|`[^`]*`", re.S)


def _substitution_like(text: str) -> bool:
    """Whether reST prose (literals, math roles and ``.. math::`` blocks removed)
    holds a start-string of a substitution reference."""
    kept, block = [], None  # block: indent of the ``.. math::`` being skipped
    for line in _LITERALS.sub("", text).splitlines():
        indent = len(line) - len(line.lstrip())
        if block is not None and (not line.strip() or indent > block):
            continue
        block = indent if ".. math::" in line else None
        if block is None and ">>>" not in line:
            kept.append(line)
    return bool(_SUBSTITUTION.search("\n".join(kept)))


def _comment_blocks(source: str) -> list[tuple[int, str]]:
    """Whole ``#:`` comment blocks (the attribute docs autodoc renders)."""
    blocks, start, lines = [], 0, []
    for i, line in enumerate(source.splitlines() + [""], 1):
        text = line.strip()
        if text.startswith("#:"):
            start = start or i
            lines.append(text[2:].strip())
        elif lines:
            blocks.append((start, "\n".join(lines)))
            start, lines = 0, []
    return blocks


def test_rendered_docs_hold_no_substitution_references():
    bad = []
    for name in sorted(_public_modules(lm_sims) | _public_modules(lm_sims.viz)):
        module = importlib.import_module(name)
        for obj, doc in _docstrings(module):
            if _substitution_like(doc.split("Example")[0]):
                bad.append(f"{name}.{obj}")
    root = Path(lm_sims.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for line, block in _comment_blocks(path.read_text()):
            if _substitution_like(block):
                bad.append(f"{path.relative_to(root)}:{line}")
    assert not bad, bad


def test_the_substitution_check_can_fail():
    assert _substitution_like("spikes up to 7e5 x (|loss_0| + 1) at step 1")
    assert _substitution_like("(1,000 x (loss_0 + 1/2 mean |y|^2)")
    assert not _substitution_like("``1e3 * (|loss_0| + 1)`` and :math:`|x|`")
    assert not _substitution_like("a\n\n.. math::\n\n    m = |a|\\,|w|.\n\nb")
    assert _substitution_like("a\n\n.. math::\n\n    m = |a|.\n\nthen |b| here")


# -- every docstring is valid reStructuredText after napoleon ----------------------
# The -W book build fails on a docstring that docutils warns about (an inline
# literal holding backticks, an unclosed emphasis); this finds them in seconds
# instead of at the end of a 13-minute build. Sphinx-only roles and directives are
# registered as no-ops: docutils alone does not know them.


def _rst_warnings(docstring: str) -> str:
    import io

    import docutils.core
    import docutils.nodes
    from docutils.parsers.rst import Directive, directives, roles
    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    class _AnyOption(dict):
        def __contains__(self, key):
            return True

        def __getitem__(self, key):
            return directives.unchanged

    class _Skip(Directive):
        has_content = True
        optional_arguments = 10
        final_argument_whitespace = True
        option_spec = _AnyOption()

        def run(self):
            return []

    for role in ("func", "meth", "class", "mod", "data", "attr", "obj", "exc"):
        roles.register_generic_role(role, docutils.nodes.literal)
    for name in ("attribute", "rubric", "seealso", "note", "warning", "math"):
        directives.register_directive(name, _Skip)
    # the book's napoleon settings (_config.yml)
    config = Config(napoleon_use_rtype=False, napoleon_attr_annotations=False)
    text = str(GoogleDocstring(docstring, config))
    stream = io.StringIO()
    docutils.core.publish_doctree(
        text,
        settings_overrides={
            "warning_stream": stream,
            "report_level": 2,
            "halt_level": 5,
        },
    )
    return stream.getvalue().strip()


def _public_docstrings():
    import inspect

    found = {}
    names = ["lm_sims"] + [
        m.name for m in pkgutil.walk_packages(lm_sims.__path__, "lm_sims.")
    ]
    for module_name in names:
        module = importlib.import_module(module_name)
        found[module_name] = inspect.getdoc(module)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
                continue
            found[f"{module_name}.{name}"] = inspect.getdoc(obj)
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if isinstance(value, property):
                        value = value.fget
                    if not attr.startswith("_") and callable(value):
                        found[f"{module_name}.{name}.{attr}"] = inspect.getdoc(value)
    return {k: v for k, v in found.items() if v}


def test_every_docstring_is_valid_rst():
    docstrings = _public_docstrings()
    assert len(docstrings) > 400, len(docstrings)  # discovery works (460 today)
    bad = {}
    for name, doc in docstrings.items():
        warnings = _rst_warnings(doc)
        if warnings:
            bad[name] = warnings.splitlines()[0]
    assert not bad, bad


def test_the_rst_check_can_fail():
    # the glue docstring that failed a -W build: a literal holding backticks
    assert "Inline literal" in _rst_warnings(
        "Prints it.\n\nThe prose names it as `` `name` ``."
    )
    assert not _rst_warnings("Prints it.\n\nThe prose names it as ``name``.")


# Modules outside lm_sims that the book's Sphinx cannot resolve: the build is
# offline, without intersphinx, and nitpicky (-n -W), so a role pointing into one of
# them fails the whole build (compilation_cache.cache_dir's :class:`~pathlib.Path`
# did, in the slow tier only)
_EXTERNAL = {
    "pathlib",
    "os",
    "sys",
    "typing",
    "collections",
    "functools",
    "math",
    "numpy",
    "np",
    "jax",
    "jnp",
    "optax",
    "scipy",
    "plotly",
    "ipywidgets",
}
_ROLE = re.compile(r":(?:class|func|meth|mod|data|exc|attr|obj):`[~!]?([\w.]+)`")


def _external_roles(doc: str) -> list[str]:
    return [t for t in _ROLE.findall(doc) if t.split(".", 1)[0] in _EXTERNAL]


def test_no_docstring_role_points_outside_lm_sims():
    bad = []
    for name in sorted(_public_modules(lm_sims) | _public_modules(lm_sims.viz)):
        module = importlib.import_module(name)
        for obj, doc in _docstrings(module):
            bad += [f"{name}.{obj}: {t}" for t in _external_roles(doc)]
    assert not bad, bad


def test_the_external_role_check_can_fail():
    doc = "Returns: a :class:`~pathlib.Path`, not :class:`Knob`, :func:`lm_sims.sweep`."
    assert _external_roles(doc) == ["pathlib.Path"]
