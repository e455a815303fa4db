"""Write the Colab/Binder notebook next to every chapter page: X.md -> X.ipynb.

The MyST markdown page (jupytext) is the source of truth. For every section page under
``chapters/`` that has jupytext front matter, this script

1. makes sure the page's FIRST code cell is the Colab setup cell (tagged
   ``remove-cell`` so the book hides it). On Colab only it installs lm_sims from the
   repository named by ``repository.url`` in ``_config.yml``; it never installs or
   upgrades JAX (lm_sims asks for a loose lower bound that Colab's JAX satisfies).
   A missing cell is inserted and an outdated one (e.g. an old URL) is rewritten in
   the ``.md``; nothing else in the ``.md`` is touched;
2. (re)writes ``X.ipynb`` from the page with jupytext: no outputs, deterministic
   cell ids, so the file only changes when the page does;
3. turns the notebook's MyST into plain Markdown that JupyterLab and Colab render,
   with the numbers the built book shows: ``{glue:text}`x``` -> `` `x` `` (the value
   is the line ``lm_sims.viz.glue`` prints above), ``{cite}`` -> author-year links
   from ``book/references.bib``, ``{eq}`` -> ``(c.k)`` (equations and exercises are
   numbered chapter-wide in ``_toc.yml`` order) and ``\tag{c.k}`` in the labelled
   display math, ``{func}``/``{class}``/... -> inline code, ``{doc}`` -> a link to
   the other notebook, ``{ref}`` -> the target's text, exercises -> "Exercise c.k:
   title" headings, solutions -> ``<details>`` blocks with their code cells'
   input collapsed (``jupyter.source_hidden``), other directives -> blockquotes,
   ``(label)=`` targets dropped. An unknown label, page, key or role raises
   ``SyncError`` naming the page.

``--check`` compares what the sync writes (cell types, sources, the ``lm_book``
metadata), not outputs, execution counts or the kernelspec: a reader who runs a
notebook and saves it does not make it stale.

The theme's Colab and Binder buttons open ``X.ipynb`` (it must exist next to
``X.md`` when the book is built; ``_config.yml`` excludes it from the build).

Usage::

    python scripts/sync_notebooks.py          # update
    python scripts/sync_notebooks.py --check  # exit 1 and list what is stale
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import posixpath
import re
import sys
from pathlib import Path
from typing import NamedTuple

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
SETUP_TAG = "remove-cell"
SETUP_MARKER = "google.colab"  # a code cell mentioning this is the setup cell


def repository_url(root: Path = ROOT) -> str:
    """``repository.url`` from ``_config.yml`` (no trailing slash or ``.git``)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise SystemExit("_config.yml has no repository.url")
    return url.rstrip("/").removesuffix(".git")


def setup_source(url: str) -> str:
    """Source of the Colab setup cell for the repository at ``url``."""
    return (
        "# Colab only: install lm_sims from the book's repository (Colab's own JAX\n"
        "# is kept: lm_sims needs only a recent one) and turn on Colab's widget\n"
        "# manager for the live figures.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "lm_sims[viz,data] @ git+{url}"\n'
        "    from google.colab import output\n"
        "\n"
        "    output.enable_custom_widget_manager()\n"
        "\n"
        "# Everywhere: keep compiled simulations on disk (~/.cache/lm_sims; delete\n"
        "# the folder to clear it), so a rerun after a kernel restart skips most\n"
        "# compilation. LM_SIMS_JAX_CACHE_DIR=off turns it off.\n"
        "from lm_sims import compilation_cache\n"
        "\n"
        "compilation_cache.enable()"
    )


def is_paired_page(path: Path) -> bool:
    """A MyST notebook page: markdown whose front matter has a ``jupytext`` key."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, flags=re.S)
    if not match:
        return False
    front = yaml.safe_load(match.group(1)) or {}
    return isinstance(front, dict) and "jupytext" in front


def pages(root: Path = ROOT) -> list[Path]:
    """Every chapter section page with jupytext front matter, sorted."""
    found = (root / "chapters").rglob("*.md")
    return sorted(
        p for p in found if ".ipynb_checkpoints" not in p.parts and is_paired_page(p)
    )


# A MyST code cell: opening fence (3+ backticks) with {code-cell}, then up to the
# same fence on its own line.
_CELL = re.compile(
    r"^(?P<fence>`{3,})\{code-cell\}(?P<lang>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$\n?",
    flags=re.M | re.S,
)


def _setup_block(url: str, lang: str) -> str:
    return f"```{{code-cell}}{lang}\n:tags: [{SETUP_TAG}]\n\n{setup_source(url)}\n```\n"


def with_setup_cell(text: str, url: str) -> str:
    """The page text with the setup cell as its first code cell (else unchanged)."""
    cells = list(_CELL.finditer(text))
    lang = cells[0].group("lang") if cells else " ipython3"
    block = _setup_block(url, lang or " ipython3")
    if cells and SETUP_MARKER in cells[0].group("body"):
        first = cells[0]
        if first.group(0).rstrip("\n") == block.rstrip("\n"):
            return text
        return text[: first.start()] + block + text[first.end() :]
    if cells:
        at = cells[0].start()
        return text[:at] + block + "\n" + text[at:]
    return text.rstrip("\n") + "\n\n" + block


# -- MyST -> plain Markdown for the generated notebook --------------------------------
#
# The notebook is read in JupyterLab and on Colab, which know Markdown and math but no
# MyST: every role and directive becomes what the built book shows (equation and
# exercise numbers, author-year citations, section titles) or plain Markdown.

KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}
_GLUE_ROLES = re.compile(r"glue(:\w*)?\Z")
_CODE_ROLES = {"func", "class", "mod", "data", "meth", "attr", "obj", "exc"}
_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<content>[^`]*)`")
_DIRECTIVE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$\n?",
    flags=re.M | re.S,
)
_TARGET = re.compile(r"^\((?P<label>[^)\s]+)\)=[ \t]*$\n?", flags=re.M)
_LABELLED_MATH = re.compile(r"\$\$[ \t]*\((?P<label>[^)\s]+)\)[ \t]*$", flags=re.M)
_HEADING = re.compile(r"^#{1,6}[ \t]+(?P<text>.+?)[ \t]*#*[ \t]*$", flags=re.M)
_OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")


class SyncError(ValueError):
    """A page the sync cannot convert (an unknown label, role or citation key)."""


class Target(NamedTuple):
    """What a reference to a label shows: ``(1.2)``, ``Exercise 1.4``,
    ``Figure 2.3``, a heading."""

    kind: str  # "equation" | "exercise" | "figure" | "section"
    text: str
    page: str  # the page's path from the root, without suffix


class BookIndex:
    """Labels, numbers, titles and citations of the book, in ``_toc.yml`` order.

    (A plain class, not a dataclass: the tests load this script by path, without
    registering it in ``sys.modules``, which dataclasses need.)
    """

    def __init__(self, citations: dict[str, tuple[str, str | None]] | None = None):
        self.labels: dict[str, Target] = {}
        self.titles: dict[str, str] = {}  # page -> first heading
        self.exercises: dict[str, list[str]] = {}  # page -> numbers "c.k" in order
        self.figures: dict[str, list[str]] = {}  # page -> "Figure c.k" in order
        self.paired: set[str] = set()
        self.citations = citations or {}


def _options(body: str) -> tuple[dict[str, str], str]:
    """Split a directive body into its ``:key: value`` options and the rest."""
    lines = body.split("\n")
    opts: dict[str, str] = {}
    i = 0
    while i < len(lines) and (m := _OPTION.match(lines[i])):
        opts[m.group("key")] = m.group("value").strip()
        i += 1
    return opts, "\n".join(lines[i:]).strip("\n")


def _prose(text: str) -> str:
    """The page text with its code cells blanked out (their ``#`` are no headings)."""
    return _CELL.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _index_page(index: BookIndex, text: str, page: str, counts: list[int], chapter):
    """Add one page's title, labels and numbers; ``counts`` = [equations, exercises,
    figures], counted chapter-wide as Sphinx's numfig does."""
    prose = _prose(text)
    if m := _HEADING.search(prose):
        index.titles[page] = m.group("text")
    number = (lambda k: f"{chapter}.{k}") if chapter else str
    events = [
        (m.start(), "eq", m.group("label")) for m in _LABELLED_MATH.finditer(prose)
    ]
    events += [
        (m.start(), m.group("name"), m.group("body"))
        for m in _DIRECTIVE.finditer(prose)
        if m.group("name") in ("exercise", "glue:figure", "figure")
    ]
    events += [(m.start(), "target", m.end()) for m in _TARGET.finditer(prose)]
    index.exercises[page] = []
    index.figures[page] = []
    for _, kind, value in sorted(events, key=lambda e: e[0]):
        if kind in ("glue:figure", "figure"):
            counts[2] += 1
            text = f"Figure {number(counts[2])}"
            index.figures[page].append(text)
            opts, _ = _options(value)
            if "name" not in opts:  # Sphinx numbers only labelled figures
                raise SyncError(f"{page}: a figure without :name: (it gets no number)")
            index.labels[opts["name"]] = Target("figure", text, page)
            continue
        if kind == "eq":
            counts[0] += 1
            index.labels[value] = Target("equation", f"({number(counts[0])})", page)
        elif kind == "exercise":
            opts, _ = _options(value)
            if "nonumber" in opts:
                index.exercises[page].append("")
                continue
            counts[1] += 1
            index.exercises[page].append(number(counts[1]))
            if "label" in opts:
                index.labels[opts["label"]] = Target(
                    "exercise", f"Exercise {number(counts[1])}", page
                )
    for m in _TARGET.finditer(prose):
        heading = _HEADING.search(prose, m.end())
        if heading is None:
            raise SyncError(f"{page}: target ({m.group('label')})= has no heading")
        index.labels[m.group("label")] = Target("section", heading.group("text"), page)


def citations(bib: Path) -> dict[str, tuple[str, str | None]]:
    """Author-year text and link of every entry of a BibTeX file.

    The text is the book's bibliography label (``book/_ext/lm_book.py``): "Neal
    1996", "Lee and Bahri 2018", "Simon et al. 2026". The link is the entry's
    ``url``, else its arXiv ``eprint``, else its ``doi`` (None if it has none).
    """
    from pybtex.database import parse_file  # noqa: PLC0415 - only at sync time

    spec = importlib.util.spec_from_file_location(
        "lm_book", ROOT / "book" / "_ext" / "lm_book.py"
    )
    lm_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lm_book)
    found = {}
    for key, entry in parse_file(str(bib), bib_format="bibtex").entries.items():
        fields = entry.fields
        url = fields.get("url")
        if not url and fields.get("eprint"):
            url = f"https://arxiv.org/abs/{fields['eprint']}"
        if not url and fields.get("doi"):
            url = f"https://doi.org/{fields['doi']}"
        found[key] = (lm_book.author_year(entry), url)
    return found


def _toc_pages(root: Path) -> list[tuple[str, int | None]]:
    """Every page of ``_toc.yml`` in order, with its chapter number (None if none)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found: list[tuple[str, int | None]] = [(toc["root"], None)]
    chapter = 0
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            number = None
            if part.get("numbered"):
                chapter += 1
                number = chapter
            found.append((entry["file"], number))
            found += [(s["file"], number) for s in entry.get("sections", [])]
    return found


def build_index(root: Path = ROOT) -> BookIndex:
    """The book's labels and numbers, counted chapter-wide as the built book does."""
    index = BookIndex(citations=citations(root / "book" / "references.bib"))
    index.paired = {p.relative_to(root).with_suffix("").as_posix() for p in pages(root)}
    counts: dict[int | None, list[int]] = {}
    for page, chapter in _toc_pages(root):
        path = root / f"{page}.md"
        if not path.exists():
            continue
        per = counts.setdefault(chapter, [0, 0, 0]) if chapter else [0, 0, 0]
        _index_page(index, path.read_text(encoding="utf-8"), page, per, chapter)
    return index


def _cite(keys: str, index: BookIndex, page: str) -> str:
    parts = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in index.citations:
            raise SyncError(f"{page}: unknown citation key {key!r} in {{cite}}")
        text, url = index.citations[key]
        parts.append(f"[{text}]({url})" if url else text)
    return "(" + "; ".join(parts) + ")"


def _split_title(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target)."""
    if m := re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content.strip()):
        return m.group(1), m.group(2)
    return None, content.strip()


def _role(role: str, content: str, index: BookIndex, page: str) -> str:
    """The plain Markdown for one ``{role}`content```."""
    if _GLUE_ROLES.match(role):
        return f"`{content}`"
    if role.startswith("cite"):
        return _cite(content, index, page)
    if role == "math":
        return f"${content}$"
    if role == "term":  # a glossary link in the book; the word itself here
        text, _ = _split_title(content)
        return text or content.strip()
    domainless = role.removeprefix("py:")
    if domainless in _CODE_ROLES:
        text, target = _split_title(content)
        if text:
            return f"`{text}`"
        return f"`{target.split('.')[-1]}`" if target.startswith("~") else f"`{target}`"
    if role in ("eq", "ref", "numref"):
        text, label = _split_title(content)
        if label not in index.labels:
            raise SyncError(f"{page}: unknown label {label!r} in {{{role}}}`{content}`")
        if role == "eq" and index.labels[label].kind != "equation":
            raise SyncError(f"{page}: {{eq}}`{label}` is not an equation label")
        return text or index.labels[label].text
    if role == "doc":
        text, target = _split_title(content)
        here = posixpath.dirname(page)
        if target.startswith("/"):
            resolved = posixpath.normpath(target.lstrip("/"))
        else:
            resolved = posixpath.normpath(posixpath.join(here, target))
        if resolved not in index.titles:
            raise SyncError(f"{page}: unknown page {target!r} in {{doc}}`{content}`")
        suffix = ".ipynb" if resolved in index.paired else ".md"
        link = posixpath.relpath(resolved + suffix, here or ".")
        return f"[{text or index.titles[resolved]}]({link})"
    raise SyncError(f"{page}: no plain-Markdown rule for the role {{{role}}}")


def _blockquote(title: str, body: str) -> str:
    lines = [f"**{title}**", ""] + body.split("\n")
    return "\n".join(f"> {ln}".rstrip() for ln in lines)


def _directives(
    text: str, page: str, exercise_numbers: list[str], figure_numbers: list[str]
) -> str:
    """Exercise, figure and other directives as Markdown (solutions are handled by
    cells). A figure's explorer is the output of the code cell above it."""

    def one(m: re.Match) -> str:
        name, arg = m.group("name"), m.group("arg").strip()
        opts, body = _options(m.group("body"))
        if name in ("glue:figure", "figure"):
            if not figure_numbers:
                raise SyncError(f"{page}: more figures than the book index counted")
            head = f"**{figure_numbers.pop(0)}.**"
            where = " (the figure above)" if name == "glue:figure" else ""
            return f"{head}{where} {body}\n"
        if name == "exercise":
            if not exercise_numbers:
                raise SyncError(f"{page}: more exercises than the book index counted")
            number = exercise_numbers.pop(0)
            head = f"Exercise {number}".strip() if number else "Exercise"
            head = f"{head}: {arg}" if arg else head
            return f"#### {head}\n\n{body}\n"
        if name in ("solution-start", "solution-end"):
            raise SyncError(f"{page}: a stray {{{name}}} directive")
        if name == "code-cell":
            raise SyncError(f"{page}: a code cell inside markdown")
        title = arg or name.replace("-", " ").capitalize()
        return _blockquote(title, body) + "\n"

    return _DIRECTIVE.sub(one, text)


def _tags(text: str, index: BookIndex, page: str) -> str:
    """``$$ (label)`` -> ``\\tag{c.k}`` inside the display math."""

    def one(m: re.Match) -> str:
        label = m.group("label")
        if label not in index.labels or index.labels[label].kind != "equation":
            raise SyncError(f"{page}: labelled math ({label}) is not in the book index")
        return "\\tag{" + index.labels[label].text.strip("()") + "}\n$$"

    return _LABELLED_MATH.sub(one, text)


def plain_markdown(
    text: str,
    index: BookIndex,
    page: str,
    numbers: list[str],
    figures: list[str] | None = None,
) -> str:
    """One markdown cell's MyST as Markdown that JupyterLab and Colab render.

    ``numbers`` and ``figures`` are the page's remaining exercise and figure numbers;
    they are consumed.
    """
    text = _directives(text, page, numbers, [] if figures is None else figures)
    text = _TARGET.sub("", text)
    text = _tags(text, index, page)
    text = _ROLE.sub(lambda m: _role(m["role"], m["content"], index, page), text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


_SOLUTION = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>solution-(?:start|end))\}[^\n]*\n"
    r".*?^(?P=fence)[ \t]*$\n?",
    flags=re.M | re.S,
)


def _details(body: str, summary: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def convert_cells(cells: list, index: BookIndex, page: str) -> list:
    """The notebook cells with MyST turned into Markdown and solutions collapsed.

    A solution (``solution-start`` ... ``solution-end``, which jupytext may split over
    markdown and code cells) becomes ``<details>`` blocks around its markdown (one per
    cell: HTML cannot span cells) and its code cells get ``jupyter.source_hidden``.
    """
    numbers = list(index.exercises.get(page, []))
    figures = list(index.figures.get(page, []))
    out = []
    in_solution = False
    shown = False  # has the current solution shown its "Solution" summary yet?
    for cell in cells:
        if cell.cell_type != "markdown":
            if in_solution and cell.cell_type == "code":
                if not shown:
                    note = "The solution is the code cell below (click to show it)."
                    out.append(
                        nbformat.v4.new_markdown_cell(_details(note, "Solution"))
                    )
                    shown = True
                cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            out.append(cell)
            continue
        pos, pieces = 0, []
        source = cell.source
        for m in _SOLUTION.finditer(source):
            pieces.append((in_solution, source[pos : m.start()]))
            opening = m.group("name") == "solution-start"
            if opening == in_solution:
                state = "inside" if in_solution else "outside"
                raise SyncError(f"{page}: {{{m.group('name')}}} {state} a solution")
            in_solution, shown = opening, False if opening else shown
            pos = m.end()
        pieces.append((in_solution, source[pos:]))
        for solution, piece in pieces:
            text = plain_markdown(piece, index, page, numbers, figures)
            if not text:
                continue
            if solution:
                text = _details(text, "Solution (continued)" if shown else "Solution")
                shown = True
            new = nbformat.v4.new_markdown_cell(text)
            new.metadata = dict(cell.metadata)
            out.append(new)
    if in_solution:
        raise SyncError(f"{page}: a {{solution-start}} without {{solution-end}}")
    if numbers:
        raise SyncError(f"{page}: fewer exercises than the book index counted")
    if figures:
        raise SyncError(f"{page}: fewer figures than the book index counted")
    return out


def notebook_json(
    md_text: str, md_name: str, index: BookIndex | None = None, page: str | None = None
) -> str:
    """The ``.ipynb`` text for a page: plain Markdown, no outputs, stable ids.

    Args:
        md_text: The page's MyST text.
        md_name: The page's file name (recorded in the notebook's metadata).
        index: The book's labels and numbers (default: this page alone, unnumbered).
        page: The page's path from the root without suffix (default: ``md_name``'s
            stem).

    Raises:
        SyncError: For an unknown label, page, citation key or role.
    """
    page = page or Path(md_name).stem
    nb = jupytext.reads(md_text, fmt="md:myst")
    if index is None:
        index = BookIndex()
        _index_page(index, md_text, page, [0, 0], None)
    nb.cells = convert_cells(nb.cells, index, page)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["lm_book"] = {
        "generated_from": md_name,
        "note": "Generated by scripts/sync_notebooks.py; edit the .md, not this file.",
    }
    nbformat.validate(nb)
    return jupytext.writes(nb, fmt="ipynb")


def essence(ipynb_text: str) -> tuple:
    """What ``--check`` compares: cell types, sources, the ``lm_book`` metadata.

    Outputs, execution counts, the kernelspec and cell metadata a reader's JupyterLab
    changes (a collapsed input, a scroll state) do not count, so running and saving
    the notebook does not make it stale.
    """
    nb = json.loads(ipynb_text)
    cells = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
    return cells, nb.get("metadata", {}).get("lm_book")


def _essence_or_none(text: str) -> tuple | None:
    try:
        return essence(text)
    except (ValueError, KeyError, TypeError):  # not a notebook: stale
        return None


def sync(check: bool, root: Path = ROOT) -> list[str]:
    """Update (or, with ``check``, only list) stale pages and notebooks.

    Returns:
        One line per stale file: what is wrong with it. Notebooks without a paired
        page are listed but never deleted.
    """
    url = repository_url(root)
    index = build_index(root)
    stale = []
    for md in pages(root):
        rel = md.relative_to(root)
        text = md.read_text(encoding="utf-8")
        new_text = with_setup_cell(text, url)
        if new_text != text:
            stale.append(f"{rel} (Colab setup cell missing or outdated)")
            if not check:
                md.write_text(new_text, encoding="utf-8")
        ipynb = md.with_suffix(".ipynb")
        page = rel.with_suffix("").as_posix()
        want = notebook_json(new_text, md.name, index, page)
        have = ipynb.read_text(encoding="utf-8") if ipynb.exists() else None
        if have is None:
            stale.append(f"{ipynb.relative_to(root)} (missing)")
        elif check and _essence_or_none(have) != essence(want):
            stale.append(f"{ipynb.relative_to(root)} (out of date)")
        elif not check and have != want:
            stale.append(f"{ipynb.relative_to(root)} (out of date)")
        if not check and have != want:
            ipynb.write_text(want, encoding="utf-8")
    for ipynb in sorted((root / "chapters").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in ipynb.parts:
            continue
        md = ipynb.with_suffix(".md")
        if not (md.exists() and is_paired_page(md)):
            stale.append(f"{ipynb.relative_to(root)} (no paired .md page; delete it)")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if stale"
    )
    args = parser.parse_args(argv)
    stale = sync(check=args.check)
    orphans = [s for s in stale if "no paired .md page" in s]
    if args.check:
        if stale:
            print("Stale (run: python scripts/sync_notebooks.py):")
            print("\n".join(f"  {s}" for s in stale))
            return 1
        print(f"{len(pages())} chapter notebooks in sync.")
        return 0
    for s in stale:
        print(f"warning: {s}" if s in orphans else f"updated {s}")
    if not stale:
        print(f"{len(pages())} chapter notebooks already in sync.")
    return int(bool(orphans))


if __name__ == "__main__":
    sys.exit(main())
