"""The one place that owns the jinja2 environment.

Templates are looked up first in the book's own ``templates/`` folder (so a
book can override any of them) and then in build_book's bundled templates.

A book is untrusted input (CI builds every pushed change), so its templates
run in Jinja's sandbox, with a loader that sees only those two folders and
refuses a file that a symbolic link takes outside the book; the objects a
template receives give it no way to open files. Whatever goes wrong in an
override (syntax, an undefined variable, a missing or recursive include, a
file that is not UTF-8, bad CSS) is the author's problem and is reported as a
located diagnostic: :func:`check_templates` finds most of it before a build,
:func:`render` the rest.
"""

from __future__ import annotations

import os
import types
from functools import lru_cache
from pathlib import Path, PurePath

import jinja2
from jinja2 import nodes
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment

from . import sandbox
from .files import package_templates
from .diagnostics import BuildError, Diagnostic, Location, error, line_column


PACKAGE_TEMPLATES = package_templates()
BOOK_TEMPLATES = "templates"
# what a template may read of a path it is given (text only; nothing that touches the disk)
PATH_ATTRIBUTES = {"name", "stem", "suffix", "suffixes", "parts"}
# modules whose functions and methods reach files, processes or the network
UNSAFE_MODULES = {"os", "posix", "nt", "io", "_io", "pathlib", "shutil", "subprocess", "socket", "sys",
                  "builtins", "importlib", "tempfile", "glob", "urllib.request"}


class TemplateProblem(jinja2.TemplateError):
    """A book template that cannot be used as it is; carries the diagnostic to report."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, also closed to paths, modules and file-reaching callables."""

    def is_safe_attribute(self, obj, attr, value) -> bool:
        if isinstance(obj, PurePath) and attr not in PATH_ATTRIBUTES:
            return False
        if isinstance(value, types.ModuleType):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj) -> bool:
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, PurePath) or isinstance(obj, type):
            return False
        module = getattr(obj, "__module__", None) or getattr(type(owner), "__module__", "")
        if module in UNSAFE_MODULES and owner is not None and not isinstance(owner, (str, bytes, dict, list, tuple)):
            return False
        if module in UNSAFE_MODULES and owner is None:
            return False
        return super().is_safe_callable(obj)


class _Loader(jinja2.BaseLoader):
    """The book's templates/ folder first, then build_book's own; nothing else."""

    def __init__(self, book_root: Path):
        self.root = book_root.resolve()

    def locate(self, name: str) -> tuple[Path, bool] | None:
        """The file for template ``name`` and whether it is the book's own; None if there is none.

        Raises :class:`TemplateProblem` for a book file that lies outside the book."""
        pieces = split_template_path(name)  # refuses '..'
        rel = "/".join([BOOK_TEMPLATES, *pieces])
        candidate = self.root.joinpath(BOOK_TEMPLATES, *pieces)
        if os.path.lexists(candidate):
            path = sandbox.inside(self.root, rel)
            if path is None:
                raise TemplateProblem(sandbox.outside(rel, Location(rel), "template"))
            if path.is_file():
                return path, True
        packaged = PACKAGE_TEMPLATES.joinpath(*pieces)
        if packaged.is_file() and sandbox.within(packaged.resolve(), PACKAGE_TEMPLATES):
            return packaged, False
        return None

    def get_source(self, environment, template):
        found = self.locate(template)
        if found is None:
            raise jinja2.TemplateNotFound(template)
        path, _ = found
        raw = path.read_bytes()
        source = _decode(raw, self.relative(path))
        mtime = path.stat().st_mtime
        return source, str(path), lambda: _mtime(path) == mtime

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def is_book_file(self, filename: str | None) -> bool:
        if not filename:
            return False
        return sandbox.within(Path(filename), self.root / BOOK_TEMPLATES)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _decode(raw: bytes, rel: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TemplateProblem(error("encoding", f"the template is not UTF-8 text: byte {exc.start} "
                                    f"(0x{raw[exc.start]:02x}) cannot be read", Location(rel, line, 1),
                                    "save the template as UTF-8 text")) from None


TEMPLATE_FORMAT = "build_book-template 1"   # header of a compiled template in the cache (see cache.py)


class _Compiled(jinja2.BytecodeCache):
    """The templates as Jinja compiled them (Python bytecode), kept through cache.py so that a build does
    not compile the same templates again (a tenth of a second). An entry is named by the template's name
    and file, and holds the version of build_book and Jinja it was compiled by and the checksum of the
    source (Jinja's own check): an edited template, another build_book or Jinja, or an entry that is not
    sound is compiled anew and overwrites it.

    Compiled code is run as it is, so it is kept in the user's own cache folder (:func:`compiled_folder`),
    never in the book's ``build/``: a book (untrusted) could otherwise bring code that its templates, run
    in the sandbox, could never run. An entry another user could have written is not used."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _stamp(self) -> bytes:
        from . import cache as cachefile
        return f"{cachefile.version_key()} jinja2 {jinja2.__version__}\n".encode()

    def load_bytecode(self, bucket) -> None:
        from . import cache as cachefile
        try:
            for path in (self.folder, self.folder / f"{bucket.key}.bin"):
                info = path.stat()
                if info.st_uid != os.getuid() or info.st_mode & 0o022:
                    return
        except OSError:
            return
        body = cachefile.get(self.folder, bucket.key, TEMPLATE_FORMAT, ".bin")
        stamp = self._stamp()
        if body is not None and body.startswith(stamp):
            bucket.bytecode_from_string(body[len(stamp):])   # Jinja checks the source's checksum

    def dump_bytecode(self, bucket) -> None:
        from . import cache as cachefile
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            return
        cachefile.put(self.folder, bucket.key, self._stamp() + bucket.bytecode_to_string(), TEMPLATE_FORMAT, ".bin")
        try:
            (self.folder / f"{bucket.key}.bin").chmod(0o600)
        except OSError:
            pass


def compiled_folder() -> Path | None:
    """Where compiled templates are kept: ``$XDG_CACHE_HOME/build_book/templates`` (``~/.cache/...``);
    None where there is no such folder to be had."""
    from . import cache as cachefile
    folder = cachefile.user_folder()
    return folder / "templates" if folder is not None else None


@lru_cache(maxsize=8)
def environment(book_root: Path) -> jinja2.Environment:
    return _Sandbox(
        loader=_Loader(book_root),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_Compiled(folder) if (folder := compiled_folder()) is not None else None,
    )


def render(book_root: Path, name: str, **context) -> str:
    """Render template ``name``; a problem in one of the book's templates raises :class:`BuildError`."""
    env = environment(book_root)
    try:
        return env.get_template(name).render(**context)
    except BuildError:
        raise
    except TemplateProblem as exc:
        raise BuildError([exc.diagnostic]) from None
    except Exception as exc:  # noqa: BLE001 - sorted below: the author's template, or a bug of ours
        diagnostic = _diagnose(env.loader, exc)
        if diagnostic is None:
            raise
        raise BuildError([diagnostic]) from None


def _diagnose(loader: _Loader, exc: BaseException) -> Diagnostic | None:
    """A diagnostic for an exception raised while rendering, if a book template is where it arose."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and loader.is_book_file(exc.filename):
        return error("template-syntax", f"template syntax error: {exc.message}",
                     Location(loader.relative(Path(exc.filename)), exc.lineno or 1, 1),
                     "see the Jinja template documentation; the bundled templates in build_book's templates/ "
                     "folder are examples")
    where = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if loader.is_book_file(filename):
            where = Location(loader.relative(Path(filename)), tb.tb_lineno, 1)
        tb = tb.tb_next
    if where is None:
        return None
    if isinstance(exc, RecursionError):
        return error("template-recursive", "the template includes itself, directly or through other templates",
                     where, "remove the include that leads back to this template")
    if isinstance(exc, jinja2.TemplateNotFound):
        return error("template-missing", f"the template '{exc.name}' does not exist", where,
                     "a template may include the book's own templates/ files and build_book's templates")
    if isinstance(exc, jinja2.UndefinedError):
        return error("template-error", f"template error: {exc.message}", where,
                     "the bundled template of the same name shows the variables a template receives")
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return error("template-error", f"the template does something templates may not do: {exc}", where,
                     "templates may only format the book's data; they cannot read files")
    return error("template-error", f"template error: {type(exc).__name__}: {exc}", where,
                 "check this line of the template")


def static_file(book_root: Path, name: str) -> Path:
    """A stylesheet (or other static file): the book's override if it has one, else build_book's."""
    try:
        found = _Loader(book_root).locate(name)
    except TemplateProblem as exc:
        raise BuildError([exc.diagnostic]) from None
    if found is None:
        raise FileNotFoundError(name)
    return found[0]


def overrides(book_root: Path) -> list[Path]:
    """The files in the book's templates/ folder (not following links out of it), sorted; none where
    that folder is build_book's own (the volume in build_book's checkout: its templates/ is the
    package's, overriding nothing)."""
    folder = book_root / BOOK_TEMPLATES
    if not folder.is_dir() or folder.is_symlink() or _is_package_templates(folder):
        return []
    found = []
    for top, dirs, files in os.walk(folder):  # os.walk does not follow symbolic links to folders
        dirs.sort()
        found += [Path(top) / f for f in sorted(files)]
    return found


def _is_package_templates(folder: Path) -> bool:
    try:
        return folder.resolve() == PACKAGE_TEMPLATES.resolve()
    except OSError:
        return False


def check_templates(book_root: Path) -> list[Diagnostic]:
    """What can be known about the book's template overrides before a build: files outside the book,
    text that is not UTF-8, Jinja syntax, includes of templates that do not exist or that lead back
    to themselves, and CSS that does not parse."""
    root = book_root.resolve()
    loader = _Loader(root)
    env = environment(root)
    diags: list[Diagnostic] = []
    folder = root / BOOK_TEMPLATES
    if os.path.lexists(folder) and sandbox.inside(root, BOOK_TEMPLATES) is None:
        return [sandbox.outside(BOOK_TEMPLATES, Location(BOOK_TEMPLATES), "templates folder")]
    references: dict[str, list[tuple[str, int]]] = {}  # template name -> (name it includes, line)
    for path in overrides(root):
        rel = path.relative_to(root).as_posix()
        name = path.relative_to(folder).as_posix()
        if sandbox.inside(root, rel) is None:
            diags.append(sandbox.outside(rel, Location(rel), "template"))
            continue
        if path.suffix not in (".j2", ".css"):
            continue
        try:
            text = _decode(path.read_bytes(), rel)
        except TemplateProblem as exc:
            diags.append(exc.diagnostic)
            continue
        except OSError as exc:
            diags.append(error("template-error", f"the template cannot be read: {exc.strerror}", Location(rel)))
            continue
        if path.suffix == ".css":
            diags += check_css(text, rel)
            continue
        try:
            tree = env.parse(text, name, str(path))
        except jinja2.TemplateSyntaxError as exc:
            diags.append(error("template-syntax", f"template syntax error: {exc.message}",
                               Location(rel, exc.lineno or 1, 1),
                               "see the Jinja template documentation; the bundled templates in build_book's "
                               "templates/ folder are examples"))
            continue
        references[name] = _includes(tree)
        for target, line in references[name]:
            try:
                found = loader.locate(target)
            except TemplateProblem as exc:
                diags.append(exc.diagnostic)
                continue
            except jinja2.TemplateNotFound:
                found = None
            if found is None:
                diags.append(error("template-missing", f"the template '{target}' does not exist",
                                   Location(rel, line, 1), "a template may include the book's own templates/ "
                                   "files and build_book's templates"))
    diags += _cycles(root, loader, env, references)
    return diags


def _includes(tree: nodes.Template) -> list[tuple[str, int]]:
    """The templates a parsed template includes, imports or extends by a constant name, with their lines."""
    found = []
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        if isinstance(node.template, nodes.Const) and isinstance(node.template.value, str):
            found.append((node.template.value, node.lineno))
    return found


def _cycles(root: Path, loader: _Loader, env, book_refs: dict[str, list[tuple[str, int]]]) -> list[Diagnostic]:
    """Includes of the book's templates that lead back to where they start."""

    def refs(name: str) -> list[tuple[str, int]]:
        if name in book_refs:
            return book_refs[name]
        try:
            found = loader.locate(name)
            if found is None or found[1]:
                return []  # missing, or a book file already reported
            return _includes(env.parse(found[0].read_text(encoding="utf-8"), name, str(found[0])))
        except Exception:  # noqa: BLE001 - reported elsewhere
            return []

    diags = []
    for start, includes in book_refs.items():
        for first, line in includes:
            seen: set[str] = set()
            stack = [first]
            while stack:
                name = stack.pop()
                if name == start:
                    break
                if name not in seen:
                    seen.add(name)
                    stack.extend(target for target, _ in refs(name))
            else:
                continue
            diags.append(error("template-recursive", f"the template '{start}' includes itself, directly or "
                               "through other templates", Location(f"{BOOK_TEMPLATES}/{start}", line, 1),
                               "remove the include that leads back to this template"))
            break
    return diags


def check_css(text: str, rel: str) -> list[Diagnostic]:
    """Syntax errors in an overridden stylesheet, with their lines."""
    import tinycss2

    diags = []

    def report(line: int, column: int, message: str) -> None:
        diags.append(error("template-css", f"stylesheet error: {message}", Location(rel, line, column),
                           "fix the CSS at this place; a browser or WeasyPrint would drop the rule"))

    def blocks(content, depth=0) -> None:
        if content is None or depth > 20:
            return
        for item in tinycss2.parse_blocks_contents(content, skip_comments=True, skip_whitespace=True):
            if item.type == "error":
                report(item.source_line, item.source_column, item.message)
            elif item.type == "declaration" and not [t for t in item.value if t.type not in ("whitespace", "comment")]:
                report(item.source_line, item.source_column, f"the property '{item.name}' has no value")
            elif item.type in ("qualified-rule", "at-rule"):
                prelude(item)
                blocks(item.content, depth + 1)

    def prelude(rule) -> None:
        for token in rule.prelude or []:
            if token.type == "error":  # a stray ')', ']' or '}'
                report(token.source_line, token.source_column, f"unexpected '{token.kind}'"
                       if getattr(token, "kind", "") in (")", "]", "}") else token.message)
                break
            if token.type == "literal" and token.value == ";":
                report(token.source_line, token.source_column, "unexpected ';'")
                break

    deep = _braces(text)[1]
    if deep:
        report(deep[0], deep[1], f"blocks nested more than {MAX_CSS_DEPTH} deep")
        return diags
    for rule in tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True):
        if rule.type == "error":
            report(rule.source_line, rule.source_column, rule.message)
        else:
            prelude(rule)
            if rule.type == "qualified-rule" or rule.content is not None:
                blocks(rule.content)
    opened = _unclosed(text)
    if opened:
        report(opened[0], opened[1], "a '{' that is never closed")
    return diags


MAX_CSS_DEPTH = 20   # @media inside @supports inside a rule: a stylesheet needs three or four


def _unclosed(text: str) -> tuple[int, int] | None:
    """Where the first '{' that is never closed stands, outside strings and comments."""
    return _braces(text)[0]


def _braces(text: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """Where the first '{' that is never closed stands, and where blocks first nest past
    :data:`MAX_CSS_DEPTH`, outside strings and comments (line, column), each None if nowhere."""
    import re

    stack: list[int] = []
    deep = None
    for match in re.finditer(r"/\*.*?(\*/|$)|\"(\\.|[^\"\\\n])*\"?|'(\\.|[^'\\\n])*'?|[{}]", text, re.S):
        token = match.group(0)
        if token == "{":
            stack.append(match.start())
            if deep is None and len(stack) > MAX_CSS_DEPTH:
                deep = line_column(text, match.start())
        elif token == "}" and stack:
            stack.pop()
    return (line_column(text, stack[0]) if stack else None), deep
