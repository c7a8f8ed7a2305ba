"""Parse the Terraform tree with python-hcl2 and answer structural questions.

Used by the tests in tests/terraform: they assert the promises terraform/
makes (nothing public, everything encrypted and tagged, least-privilege IAM)
without a Terraform binary or provider downloads. The checker functions take
parsed blocks or raw text, so the tests can also feed them deliberately bad
snippets and prove that each check can fail.

python-hcl2 8.x keeps string quotes and wraps expressions in "${...}" unless
told otherwise; everything here parses with ``strip_string_quotes=True`` and
without comments, so a literal is a plain ``str`` and an expression is a
``str`` of the form ``"${expr}"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import hcl2
from hcl2 import SerializationOptions

__all__ = [
    "REPO_ROOT",
    "TERRAFORM_DIR",
    "Block",
    "ConfigDir",
    "config_dirs",
    "environment_dirs",
    "module_dirs",
    "parse_blocks",
    "load_dir",
    "load_tfvars",
    "expr",
    "iter_strings",
    "expressions_in",
    "references_in",
    "policy_statements",
    "find_unjustified_wildcards",
    "find_missing_default_tags",
    "find_unresolved_references",
    "find_bad_module_calls",
    "find_non_document_policies",
    "find_public_ingress",
    "REQUIRED_TAG_KEYS",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"

_OPTIONS = SerializationOptions(
    strip_string_quotes=True,
    with_comments=False,
    explicit_blocks=False,
)

# Block kinds with two labels (type, name), one label (name), or none.
_TWO_LABELS = {"resource", "data"}
_ONE_LABEL = {"module", "variable", "output", "provider"}


@dataclass(frozen=True)
class Block:
    """One top-level Terraform block: ``kind`` is resource/data/module/...,
    ``type`` the first label where there are two, ``name`` the last label."""

    kind: str
    type: str
    name: str
    body: dict
    path: Path

    @property
    def address(self) -> str:
        if self.kind == "resource":
            return f"{self.type}.{self.name}"
        if self.kind == "data":
            return f"data.{self.type}.{self.name}"
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class ConfigDir:
    """A Terraform configuration directory (a module or an environment)."""

    path: Path
    blocks: tuple[Block, ...]
    texts: dict  # Path -> source text

    def of(self, kind: str, type_: str | None = None) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind and (type_ is None or b.type == type_)]

    def one(self, kind: str, type_: str, name: str) -> Block:
        found = [b for b in self.of(kind, type_) if b.name == name]
        assert len(found) == 1, f"expected one {kind} {type_}.{name} in {self.path}, found {len(found)}"
        return found[0]

    def locals(self) -> dict:
        merged: dict = {}
        for b in self.of("locals"):
            merged.update(b.body)
        return merged

    def variables(self) -> dict[str, dict]:
        return {b.name: b.body for b in self.of("variable")}

    def outputs(self) -> dict[str, dict]:
        return {b.name: b.body for b in self.of("output")}


# ------------------------------------------------------------------ parsing


def parse_blocks(text: str, path: Path = Path("<snippet>")) -> list[Block]:
    """Parse HCL text into top-level blocks."""
    data = hcl2.loads(text, serialization_options=_OPTIONS)
    blocks: list[Block] = []
    for kind, entries in data.items():
        if kind.startswith("__"):
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            if kind in _TWO_LABELS:
                for type_, named in entry.items():
                    for name, body in named.items():
                        blocks.append(Block(kind, type_, name, body, path))
            elif kind in _ONE_LABEL:
                for name, body in entry.items():
                    blocks.append(Block(kind, "", name, body, path))
            else:  # terraform, locals
                blocks.append(Block(kind, "", "", entry, path))
    return blocks


def load_dir(path: Path) -> ConfigDir:
    """Parse every .tf file of one directory (not recursive)."""
    blocks: list[Block] = []
    texts: dict = {}
    for tf in sorted(path.glob("*.tf")):
        text = tf.read_text(encoding="utf-8")
        texts[tf] = text
        blocks.extend(parse_blocks(text, tf))
    return ConfigDir(path, tuple(blocks), texts)


def load_tfvars(path: Path) -> dict:
    """Parse a .tfvars file into name -> value."""
    return hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=_OPTIONS)


def module_dirs() -> list[Path]:
    return sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())


def environment_dirs() -> list[Path]:
    return sorted(p for p in (TERRAFORM_DIR / "environments").iterdir() if p.is_dir())


def config_dirs() -> list[Path]:
    return module_dirs() + environment_dirs()


# -------------------------------------------------------------- value helpers

_PURE_EXPR = re.compile(r"^\$\{(.*)\}$", re.DOTALL)


def expr(value: Any) -> str | None:
    """The expression text if ``value`` is a single ``${...}`` interpolation."""
    if isinstance(value, str):
        m = _PURE_EXPR.match(value)
        if m and "${" not in m.group(1):
            return m.group(1).strip()
    return None


def iter_strings(node: Any) -> Iterator[str]:
    """Every string value (and dict key) anywhere in a parsed body."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from iter_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from iter_strings(v)


def expressions_in(value: str) -> list[str]:
    """The bodies of all ``${...}`` interpolations in a string (brace-balanced)."""
    found = []
    i = 0
    while (start := value.find("${", i)) != -1:
        depth, j = 0, start + 1
        while j < len(value):
            if value[j] == "{":
                depth += 1
            elif value[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        found.append(value[start + 2 : j])
        i = j + 1
    return found


_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_REFERENCE = re.compile(
    r"(?<![\w.\"])"
    r"(data\.[a-z0-9_]+\.[a-z0-9_]+|(?:aws|airbyte)_[a-z0-9_]+\.[a-z0-9_]+"
    r"|var\.[a-z0-9_]+|local\.[a-z0-9_]+|module\.[a-z0-9_]+(?:\.[a-zA-Z0-9_]+)?)"
)


def references_in(value: str) -> set[str]:
    """References (resource, data, var, local, module[.output]) made by the
    expressions inside a string; quoted literals inside them are ignored."""
    refs: set[str] = set()
    for body in expressions_in(value):
        code = _STRING_LITERAL.sub('""', body)
        refs.update(m.group(1) for m in _REFERENCE.finditer(code))
    return refs


# ------------------------------------------------------------- IAM helpers

_POLICY_KEYS = ("actions", "not_actions", "resources", "not_resources")


def policy_statements(body: Any) -> Iterator[dict]:
    """Every statement-like mapping (one that has actions or resources) in an
    aws_iam_policy_document body, including those inside dynamic blocks."""
    if isinstance(body, dict):
        if any(k in body for k in _POLICY_KEYS):
            yield body
        for v in body.values():
            yield from policy_statements(v)
    elif isinstance(body, list):
        for v in body:
            yield from policy_statements(v)


# Comment lines, and lines naming principals ("*" = everyone in a Deny), are
# not actions or resources.
_NOT_POLICY_LINES = ("#", "//", "identifiers", "type")
_JUSTIFICATION = re.compile(r"#\s*wildcard-exception:\s*\S.{4,}")


def _justified(lines: list[str], index: int) -> bool:
    if _JUSTIFICATION.search(lines[index]):
        return True
    j = index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return j >= 0 and lines[j].strip().startswith("#") and bool(_JUSTIFICATION.search(lines[j]))


def find_unjustified_wildcards(text: str, local_values: dict | None = None) -> list[str]:
    """Wildcards in IAM policy documents that lack a ``# wildcard-exception:``
    comment on their line (or on the comment line right above).

    Looks at actions/not_actions/resources/not_resources of every
    aws_iam_policy_document in ``text``. A value is a wildcard if it contains
    ``*``, or if it is ``${local.X}`` and that local (from ``local_values``,
    the module's locals) contains ``*``. Every source line that holds such a
    value must be justified; a value that cannot be found in the source is
    reported too, so the check fails closed.
    """
    local_values = local_values or {}
    lines = text.splitlines()
    findings: list[str] = []
    for block in parse_blocks(text):
        if block.kind != "data" or block.type != "aws_iam_policy_document":
            continue
        for statement in policy_statements(block.body):
            for key in _POLICY_KEYS:
                values = statement.get(key) or []
                if isinstance(values, str):
                    values = [values]
                for value in values:
                    if not isinstance(value, str):
                        continue
                    expression = expr(value)
                    hidden = ""
                    if expression and expression.startswith("local."):
                        hidden = str(local_values.get(expression.split(".", 1)[1], ""))
                    if "*" not in value and "*" not in hidden:
                        continue
                    token = expression if expression is not None and "*" not in value else f'"{value}"'
                    hits = [
                        i
                        for i, line in enumerate(lines)
                        if token in line and not line.strip().startswith(_NOT_POLICY_LINES)
                    ]
                    where = f"{block.address} {key}: {value!r}"
                    if not hits:
                        findings.append(f"{where} (cannot locate it in the source)")
                    for i in hits:
                        if not _justified(lines, i):
                            findings.append(f"{where} on line {i + 1} has no '# wildcard-exception: <why>'")
    return findings


def find_non_document_policies(config: ConfigDir) -> list[str]:
    """Policy attributes not built from an aws_iam_policy_document data source
    (so that every statement is visible to the structural IAM checks)."""
    exempt_types = {"aws_ecr_lifecycle_policy"}  # a lifecycle rule set, not IAM
    locals_ = config.locals()
    findings = []
    for block in config.of("resource"):
        if block.type in exempt_types:
            continue
        for attr in ("policy", "assume_role_policy"):
            if attr not in block.body:
                continue
            value = block.body[attr]
            expression = expr(value) or ""
            if expression.startswith("data.aws_iam_policy_document.") and expression.endswith(".json"):
                continue
            if expression.startswith("local."):
                target = locals_.get(expression.split(".")[1].split("[")[0])
                if isinstance(target, dict) and target and all(
                    (expr(v) or "").startswith("data.aws_iam_policy_document.") for v in target.values()
                ):
                    continue
            findings.append(f"{block.address}.{attr} = {value!r} is not an aws_iam_policy_document")
    return findings


# ------------------------------------------------------------ tag helpers

REQUIRED_TAG_KEYS = ("project", "environment", "owner", "data-classification")


def find_missing_default_tags(blocks: list[Block]) -> list[str]:
    """AWS provider blocks without default_tags carrying every required key."""
    findings = []
    aws_providers = [b for b in blocks if b.kind == "provider" and b.name == "aws"]
    if not aws_providers:
        findings.append("no provider \"aws\" block")
    for provider in aws_providers:
        default_tags = provider.body.get("default_tags") or []
        tags: dict = {}
        for entry in default_tags if isinstance(default_tags, list) else [default_tags]:
            tags.update(entry.get("tags") or {})
        for key in REQUIRED_TAG_KEYS:
            value = tags.get(key)
            if value in (None, ""):
                findings.append(f"provider aws default_tags lacks {key!r}")
    return findings


# ------------------------------------------------------------ network helpers

_OPEN_CIDRS = {"0.0.0.0/0", "::/0"}


def find_public_ingress(blocks: list[Block]) -> list[str]:
    """Ingress rules open to the whole internet, in any of the three forms."""
    findings = []
    for b in blocks:
        if b.kind != "resource":
            continue
        if b.type == "aws_vpc_security_group_ingress_rule":
            for attr in ("cidr_ipv4", "cidr_ipv6"):
                if b.body.get(attr) in _OPEN_CIDRS:
                    findings.append(f"{b.address} allows ingress from {b.body[attr]}")
        if b.type == "aws_security_group_rule" and b.body.get("type") == "ingress":
            cidrs = set(b.body.get("cidr_blocks") or []) | set(b.body.get("ipv6_cidr_blocks") or [])
            if cidrs & _OPEN_CIDRS:
                findings.append(f"{b.address} allows ingress from {sorted(cidrs & _OPEN_CIDRS)}")
        if b.type == "aws_security_group":
            for rule in b.body.get("ingress") or []:
                cidrs = set(rule.get("cidr_blocks") or []) | set(rule.get("ipv6_cidr_blocks") or [])
                if cidrs & _OPEN_CIDRS:
                    findings.append(f"{b.address} inline ingress from {sorted(cidrs & _OPEN_CIDRS)}")
    return findings


# ------------------------------------------------ reference integrity checks

_BUILTIN_ROOTS = {"each", "count", "self", "path", "terraform"}


def find_unresolved_references(config: ConfigDir, module_outputs: dict[str, set[str]] | None = None) -> list[str]:
    """References to resources, data sources, variables, locals, modules or
    module outputs that this directory does not declare: the typo class of
    error ``terraform validate`` would catch, checked without providers.

    ``module_outputs`` maps a module call name to the outputs its source
    declares; when given, ``module.X.Y`` must name a declared output.
    """
    declared = {b.address for b in config.blocks if b.kind in ("resource", "data")}
    variables = set(config.variables())
    locals_ = set(config.locals())
    modules = {b.name for b in config.of("module")}
    findings = []
    for block in config.blocks:
        if block.kind == "moved":
            findings += _unresolved_move_target(config, block, declared)
            continue
        for value in iter_strings(block.body):
            for ref in references_in(value):
                root, _, rest = ref.partition(".")
                if root == "var":
                    ok = rest in variables
                elif root == "local":
                    ok = rest in locals_
                elif root == "module":
                    name, _, output = rest.partition(".")
                    ok = name in modules
                    if ok and output and module_outputs is not None:
                        ok = output in module_outputs.get(name, set())
                elif root in _BUILTIN_ROOTS:
                    ok = True
                else:
                    ok = ref in declared
                if not ok:
                    findings.append(f"{block.path.name}: {block.kind} {block.name or block.type}: unresolved {ref}")
    return sorted(set(findings))


def _unresolved_move_target(config: ConfigDir, block: Block, declared: set[str]) -> list[str]:
    """A moved block's ``from`` names an address that no longer exists, by
    design; its ``to`` must be a resource declared here or in a module called
    here."""
    target = expr(block.body.get("to")) or ""
    ok = target in declared
    m = re.match(r"^module\.([a-z0-9_]+)\.(.+)$", target)
    if m:
        calls = [b for b in config.of("module") if b.name == m.group(1)]
        source = calls[0].body.get("source") if calls else None
        child = (config.path / source).resolve() if isinstance(source, str) else None
        ok = child is not None and child.is_dir() and m.group(2) in {
            b.address for b in load_dir(child).blocks if b.kind == "resource"
        }
    return [] if ok else [f"{block.path.name}: moved: unresolved target {target or block.body.get('to')!r}"]


def find_bad_module_calls(config: ConfigDir) -> list[str]:
    """Module calls passing arguments the module does not declare, or
    omitting variables that have no default."""
    meta_args = {"source", "version", "providers", "depends_on", "count", "for_each"}
    findings = []
    for call in config.of("module"):
        source = call.body.get("source")
        target = (config.path / source).resolve() if isinstance(source, str) else None
        if target is None or not target.is_dir():
            findings.append(f"module {call.name}: source {source!r} is not a local directory")
            continue
        variables = load_dir(target).variables()
        passed = set(call.body) - meta_args
        for unknown in sorted(passed - set(variables)):
            findings.append(f"module {call.name}: argument {unknown!r} is not a variable of {source}")
        for missing in sorted(n for n, v in variables.items() if "default" not in v and n not in passed):
            findings.append(f"module {call.name}: required variable {missing!r} not set")
    return findings
