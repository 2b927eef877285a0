"""Loading a rule base: YAML files read safely, parsed into the models, checked as a whole (every problem at once)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .. import conditions
from .._internal import reading, yamlio
from .._internal.limits import RULE_FILE
from .._internal.suggest import did_you_mean
from ..conditions import Condition, ConditionProblem
from ..errors import Problem, RulebookError
from ..fields import FieldCatalog, FieldSpec, computed_specs, input_specs, lesion_input_specs, plan_fact_specs
from ..frameworks import Framework
from ..scores import Scale, Score
from ..vocabulary import OPTIONS, Citation
from .models import (
    _EFFECT_BY_KEY,
    LIMIT_STATUSES,
    LOCATOR_WORDS,
    STRONG_NEEDS_RATIONALE_FROM_LEVEL,
    Adjunct,
    Conflict,
    Constraint,
    Derive,
    Effect,
    Indicate,
    Limit,
    Manifest,
    PlanNote,
    PlanRule,
    Prefer,
    Question,
    Rule,
    Rulebook,
    SessionLimit,
    Source,
    effect_key,
    effect_options,
)

CONSERVATIVE = "CONSERVATIVE"


def _builtin_folder(name: str) -> Path:
    """A folder shipped with the package (installed wheel), else the repository's top-level one."""
    package = Path(__file__).resolve().parent.parent
    inside = package / name
    return inside if inside.is_dir() else package.parent / name


DEFAULT_RULES_DIR = _builtin_folder("rules")
DEFAULT_CASES_DIR = _builtin_folder("cases")
# --- loading ----------------------------------------------------------------------------------------------

# Where in a file: the keys and indexes from its top-level key down (yamlio's line index is keyed by them).
_Where = yamlio.Path_
# One file's section: file name, its body, its line index and where the body is.
_Doc = tuple[str, Any, yamlio.LineIndex, _Where]

_SECTIONS = ("rulebook", "sources", "rules", "plan", "scores", "scales", "frameworks", "consistency", "questions",
             "evidence", "invariants")


class _Loader:
    """Collects every problem across all files before failing, so one run shows them all."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.docs: dict[str, list[_Doc]] = {s: [] for s in _SECTIONS}

    def problem(self, message: str, file: str | None = None, index: yamlio.LineIndex | None = None,
                path: _Where = (), rule: str | None = None, field: str | None = None) -> None:
        line = index.line(path) if index is not None else None
        self.problems.append(Problem(message, file=file, line=line, rule=rule, field=field))

    def read(self, files: list[Path]) -> None:
        for path in files:
            name = self._name(path)
            raw = reading.read_bounded(path, RULE_FILE, RulebookError, "rule-base files are .yaml files")
            try:
                data, index = yamlio.load(yamlio.decode_text(raw), limits=RULE_FILE)
            except yamlio.YamlProblem as err:
                if err.limit:  # stop at once, on one line: the rest could be as large
                    raise RulebookError(f"{name}{f':{err.line}' if err.line else ''}: {err.message}") from None
                self.problems.append(Problem(err.message, file=name, line=err.line))
                continue
            if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in _SECTIONS:
                keys = list(data) if isinstance(data, dict) else type(data).__name__
                hint = did_you_mean(str(keys[0]), _SECTIONS) if isinstance(keys, list) and keys else ""
                self.problem(f"a rule-base file holds one top-level key, one of {', '.join(_SECTIONS)}; "
                             f"got {keys}{hint}", name, index, ())
                continue
            (section, body), = data.items()
            self.docs[section].append((name, body, index, (section,)))

    def _name(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def model(self, cls: type[BaseModel], data: Any, file: str, index: yamlio.LineIndex, path: _Where,
              rule: str | None = None) -> Any:
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            errors = err.errors(include_url=False)
            locations = [tuple(e["loc"]) for e in errors]
            for e in errors:
                here = tuple(e["loc"])
                if any(len(other) > len(here) and other[:len(here)] == here for other in locations):
                    continue  # a parent's "too short" that only echoes the child's error
                loc = path + here
                field = ".".join(str(p) for p in e["loc"])
                message = e["msg"].removeprefix("Value error, ")
                if e["type"] == "extra_forbidden":
                    allowed = [k for k in getattr(cls, "model_fields", {}) if k not in ("file", "line")]
                    message = f"unknown key{did_you_mean(str(e['loc'][-1]), allowed)}"
                elif e["type"] == "literal_error":
                    message = f"expected one of {e['ctx']['expected']}, got {e['input']!r}"
                    if "Option" in repr(cls.model_fields.get(str(e["loc"][0]))) or e["input"] not in OPTIONS:
                        message += did_you_mean(str(e["input"]), OPTIONS) if isinstance(e["input"], str) else ""
                self.problem(message, file, index, loc, rule=rule, field=field)
            return None


RULE_SUFFIXES = (".yaml", ".yml")
# Files a rule base folder may hold besides its YAML without a word: Python's package markers (the
# installed wheel ships rules/ as package data) and hidden files (.gitkeep, editor swap files).
_QUIET = frozenset({"__init__.py", "__pycache__"})


def rule_files(root: str | Path | None = None) -> tuple[Path, list[Path]]:
    """The rule base's folder and its YAML files in load order (a single file is a rule base of one).

    A file whose suffix is .yaml or .yml in another letter case (cautions.YAML) is refused rather than
    skipped: its rules would silently not apply. Other files are listed by `ignored_files`."""
    root = Path(root) if root is not None else DEFAULT_RULES_DIR
    if root.is_file():
        return root.parent, [root]
    if root.is_dir():
        files = sorted(p for p in _entries(root) if p.suffix in RULE_SUFFIXES and p.is_file())
        misnamed = [p for p in _entries(root) if p.suffix.lower() in RULE_SUFFIXES and p.suffix not in RULE_SUFFIXES]
        if misnamed:
            raise RulebookError(f"rule base {root}: {len(misnamed)} file{'s' if len(misnamed) > 1 else ''} not read",
                                [Problem(f"rename it to end in {p.suffix.lower()}: only .yaml and .yml (lower case) "
                                         "are read as rules", file=str(p)) for p in misnamed])
        return root, files
    raise RulebookError(f"{root}: no such rule base folder or file")


def ignored_files(root: str | Path | None = None) -> list[Path]:
    """Files in a rule base folder that are not read as rules (not .yaml or .yml), for `validate` to name."""
    root = Path(root) if root is not None else DEFAULT_RULES_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in _entries(root) if p.suffix not in RULE_SUFFIXES and p.is_file())


def _entries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*")
            if not any(part.startswith(".") or part in _QUIET for part in p.relative_to(root).parts)]


def files_digest(root: str | Path | None = None) -> str | None:
    """A digest of the rule base's files as bytes: unchanged files need no second parse. None if unreadable."""
    digest = hashlib.sha256()
    try:
        folder, files = rule_files(root)
        for path in files:
            size = path.stat().st_size
            if size > RULE_FILE.bytes:
                return None  # loading says which file is too large
            digest.update(f"{path.relative_to(folder)}\0{size}\0".encode())
            digest.update(path.read_bytes())
    except (OSError, RulebookError):
        return None
    return digest.hexdigest()


def load_rulebook(root: str | Path | None = None) -> Rulebook:
    """Load and validate every YAML file under `root` (default: the built-in rules/)."""
    root, files = rule_files(root)
    if not files:
        raise RulebookError(f"{root}: no .yaml files in the rule base")
    loader = _Loader(root)
    loader.read(files)
    book = _build(loader, root)
    if loader.problems:
        count = len(loader.problems)
        raise RulebookError(f"rule base {root}: {count} problem{'s' if count != 1 else ''}", loader.problems)
    assert book is not None
    return book


def _single(loader: _Loader, section: str) -> _Doc | None:
    docs = loader.docs[section]
    if not docs:
        loader.problem(f"no '{section}:' file in the rule base")
        return None
    if len(docs) > 1:
        loader.problem(f"'{section}:' appears in {len(docs)} files ({', '.join(d[0] for d in docs)}); keep one")
    return docs[0]


def _listed(loader: _Loader, section: str) -> Iterator[_Doc]:
    """Items of every file of a list section, with their file, index and path."""
    for name, body, index, path in loader.docs[section]:
        if not isinstance(body, list):
            loader.problem(f"'{section}:' holds a list", name, index, path)
            continue
        for i, item in enumerate(body):
            yield name, item, index, path + (i,)


def _build(loader: _Loader, root: Path) -> Rulebook | None:
    manifest = sources = None
    doc = _single(loader, "rulebook")
    if doc:
        manifest = loader.model(Manifest, doc[1], doc[0], doc[2], doc[3])
        if manifest is not None:
            codes = [o.code for o in manifest.options]
            if sorted(codes) != sorted(OPTIONS):
                loader.problem(f"options must be the six codes {', '.join(OPTIONS)} once each; got {codes}",
                               doc[0], doc[2], doc[3] + ("options",))
    doc = _single(loader, "sources")
    if doc:
        if isinstance(doc[1], dict):
            sources = {}
            for key, value in doc[1].items():
                source = loader.model(Source, value, doc[0], doc[2], doc[3] + (key,))
                if source is not None:
                    sources[str(key)] = source
        else:
            loader.problem("'sources:' maps each source id to its bibliography", doc[0], doc[2], doc[3])

    scores = []
    for name, item, index, path in _listed(loader, "scores"):
        score = loader.model(Score, item, name, index, path)
        if score is not None:
            scores.append((score, name, index, path))

    specs = dict(input_specs())
    specs.update(lesion_input_specs())
    specs.update(computed_specs())
    for score, name, index, path in scores:
        _check_score(loader, score, specs, name, index, path)
        lo, hi = score.range
        inputs = frozenset(c.input for c in score.components)
        specs[score.total_field] = FieldSpec(score.total_field, "int", f"{score.title} total", minimum=lo,
                                             maximum=hi, origin="score", inputs=inputs)
        specs[score.band_field] = FieldSpec(score.band_field, "enum", f"{score.title} band",
                                            values=tuple(b.name for b in score.bands), origin="score", inputs=inputs)
    for fact, info in (manifest.facts.items() if manifest else ()):
        if fact in specs:
            loader.problem(f"derived fact '{fact}' has the name of a case field or score")
        specs[fact] = FieldSpec(fact, "fact", info.title, info.description, origin="fact")
    catalog = FieldCatalog(specs)
    scales = _build_scales(loader, catalog)
    frameworks = _build_frameworks(loader, catalog)
    framework_fields = frozenset(conditions.fields_of(o.when) for f in frameworks for line in f.lines
                                 for o in line.outcomes)

    rules = _build_rules(loader, catalog, manifest, sources or {}, frozenset().union(*framework_fields))
    constraints = _build_constraints(loader, catalog)
    catalog = _resolve_fact_inputs(loader, catalog, rules)
    questions = _build_questions(loader, catalog)
    plan_rules = _build_plan_rules(loader, catalog, sources or {})
    evidence = _build_evidence(loader, sources or {})
    invariants = tuple(item for _, item, _, _ in _listed(loader, "invariants"))
    _check_citations_everywhere(loader, sources or {})

    if manifest is None or sources is None or loader.problems:
        return None
    digest = _content_hash(manifest, sources, scores, scales, rules, constraints, evidence, invariants, frameworks,
                           questions, plan_rules)
    return Rulebook(manifest=manifest, sources=sources, scores=tuple(s[0] for s in scores), scales=scales,
                    frameworks=frameworks, questions=questions,
                    rules=tuple(sorted(rules, key=lambda r: r.id)), constraints=constraints, evidence=evidence,
                    invariants=invariants, plan_rules=plan_rules, catalog=catalog, sha256=digest, root=str(root))


def _build_scales(loader: _Loader, catalog: FieldCatalog) -> tuple[Scale, ...]:
    """Each scale must define exactly the codes of its case field, so the front end can explain every one."""
    scales = []
    for name, item, index, path in _listed(loader, "scales"):
        scale = loader.model(Scale, item, name, index, path)
        if scale is None:
            continue
        spec = catalog.get(scale.field)
        if spec is None or spec.kind != "enum":
            loader.problem(f"scale '{scale.id}' grades '{scale.field}', which is not a coded case field"
                           f"{did_you_mean(scale.field, catalog.names())}", name, index, path + ("field",))
        elif sorted(g.code for g in scale.grades) != sorted(spec.values):
            loader.problem(f"scale '{scale.id}' defines codes {[g.code for g in scale.grades]}, but "
                           f"'{scale.field}' has {list(spec.values)}", name, index, path + ("grades",))
        scales.append(scale)
    return tuple(sorted(scales, key=lambda s: s.id))


def _build_frameworks(loader: _Loader, catalog: FieldCatalog) -> tuple[Framework, ...]:
    """Summary lines (NOMS): each outcome's condition is parsed and type-checked like a rule's."""
    frameworks = []
    for name, item, index, path in _listed(loader, "frameworks"):
        if not isinstance(item, dict) or not isinstance(item.get("lines"), list):
            loader.problem("a framework is a mapping with id, title, lines and citations", name, index, path)
            continue
        fid = item.get("id") if isinstance(item.get("id"), str) else None
        data, lines, ok = dict(item), [], True
        for i, line in enumerate(item["lines"]):
            if not isinstance(line, dict) or not isinstance(line.get("outcomes"), list):
                loader.problem("a line is a mapping with name, title, outcomes and unknown", name, index,
                               path + ("lines", i), rule=fid)
                ok = False
                continue
            outcomes = []
            for j, outcome in enumerate(line["outcomes"]):
                where = path + ("lines", i, "outcomes", j)
                if not isinstance(outcome, dict) or "when" not in outcome:
                    loader.problem("an outcome is a mapping with when and text", name, index, where, rule=fid)
                    ok = False
                    continue
                when = _parse_condition(loader, outcome["when"], catalog, name, index, where + ("when",), fid)
                ok = ok and when is not None
                outcomes.append({**outcome, "when": when})
            lines.append({**line, "outcomes": outcomes})
        if not ok:
            continue
        data["lines"] = lines
        framework = loader.model(Framework, data, name, index, path, rule=fid)
        if framework is not None:
            frameworks.append(framework)
    return tuple(sorted(frameworks, key=lambda f: f.id))


def _check_score(loader: _Loader, score: Score, specs: dict[str, FieldSpec], name: str,
                 index: yamlio.LineIndex, path: _Where) -> None:
    for i, component in enumerate(score.components):
        spec = specs.get(component.input)
        where = path + ("components", i)
        if spec is None:
            loader.problem(f"component '{component.name}' reads unknown field '{component.input}'"
                           f"{did_you_mean(component.input, specs)}", name, index, where)
            continue
        if component.points and spec.kind == "enum":
            extra = set(component.points) - set(spec.values)
            if extra:
                loader.problem(f"component '{component.name}' scores codes {sorted(extra)} that "
                               f"'{component.input}' does not have ({', '.join(spec.values)})", name, index, where)
        elif component.points:
            loader.problem(f"component '{component.name}' scores codes, but '{component.input}' is "
                           f"{spec.describe_type()}: use 'ranges'", name, index, where)
        elif not spec.numeric:
            loader.problem(f"component '{component.name}' scores numeric ranges, but '{component.input}' is "
                           f"{spec.describe_type()}: use 'points'", name, index, where)
    for message in score.band_problems():
        loader.problem(f"score '{score.id}': {message}", name, index, path + ("bands",))


def _parse_condition(loader: _Loader, raw: Any, catalog: FieldCatalog, file: str, index: yamlio.LineIndex,
                     path: _Where, rule_id: str | None) -> Condition | None:
    def report(problem: ConditionProblem) -> None:
        loader.problem(problem.message, file, index, path + problem.path, rule=rule_id, field=problem.field)
    return conditions.parse(raw, catalog, (), report)


def _build_rules(loader: _Loader, catalog: FieldCatalog, manifest: Manifest | None,
                 sources: dict[str, Source], tested_elsewhere: frozenset[str] = frozenset()) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for name, item, index, path in _listed(loader, "rules"):
        if not isinstance(item, dict):
            loader.problem("each rule is a mapping with id, title, when, then, text, citations", name, index, path)
            continue
        rule_id = item.get("id") if isinstance(item.get("id"), str) else None
        where = f"{name}:{index.line(path)}"
        if rule_id in seen:
            loader.problem(f"duplicate rule id (first defined at {seen[rule_id]})", name, index, path, rule=rule_id)
        elif rule_id:
            seen[rule_id] = where
        data = dict(item)
        if "when" not in data:
            loader.problem("missing 'when' (the condition)", name, index, path, rule=rule_id)
            continue
        when = _parse_condition(loader, data.pop("when"), catalog, name, index, path + ("when",), rule_id)
        effects = _parse_effects(loader, data.pop("then", None), name, index, path + ("then",), rule_id)
        if when is None or effects is None:
            continue
        data.update(when=when, then=effects, file=name, line=index.line(path))
        rule = loader.model(Rule, data, name, index, path, rule=rule_id)
        if rule is None:
            continue
        _check_rule_references(loader, rule, manifest, sources, name, index, path)
        rules.append(rule)
    _check_derivations(loader, rules, catalog, tested_elsewhere)
    return rules


def _parse_effects(loader: _Loader, raw: Any, file: str, index: yamlio.LineIndex, path: _Where,
                   rule_id: str | None) -> tuple[Effect, ...] | None:
    if not isinstance(raw, list) or not raw:
        loader.problem("'then' needs a non-empty list of effects", file, index, path, rule=rule_id)
        return None
    effects = []
    for i, item in enumerate(raw):
        keys = [k for k in (item if isinstance(item, dict) else {}) if k in _EFFECT_BY_KEY]
        if len(keys) != 1:
            first = next(iter(item), "") if isinstance(item, dict) else str(item)
            loader.problem(f"an effect has exactly one of {', '.join(_EFFECT_BY_KEY)}"
                           f"{did_you_mean(str(first), _EFFECT_BY_KEY) if not keys else f'; got {keys}'}",
                           file, index, path + (i,), rule=rule_id)
            return None
        effect = loader.model(_EFFECT_BY_KEY[keys[0]], item, file, index, path + (i,), rule=rule_id)
        if effect is None:
            return None
        effects.append(effect)
    return tuple(effects)


def _check_rule_references(loader: _Loader, rule: Rule, manifest: Manifest | None, sources: dict[str, Source],
                           file: str, index: yamlio.LineIndex, path: _Where) -> None:
    for i, effect in enumerate(rule.then):
        where = path + ("then", i)
        if isinstance(effect, Adjunct) and manifest and effect.adjunct not in manifest.adjuncts:
            loader.problem(f"unknown adjunct '{effect.adjunct}'{did_you_mean(effect.adjunct, manifest.adjuncts)}; "
                           "declare it under adjuncts in rulebook.yaml", file, index, where, rule=rule.id)
        if isinstance(effect, Derive) and manifest and effect.derive not in manifest.facts:
            loader.problem(f"derives undeclared fact '{effect.derive}'{did_you_mean(effect.derive, manifest.facts)}; "
                           "declare it under facts in rulebook.yaml", file, index, where, rule=rule.id)
        if isinstance(effect, Limit) and effect.at_most not in LIMIT_STATUSES:
            loader.problem(f"limit caps at {', '.join(LIMIT_STATUSES)} only, got at_most: {effect.at_most}; a lower "
                           "cap says why: contraindicate (relative: caution; absolute: contraindicated), "
                           "advise_against (not_recommended) or a conflict (caution)",
                           file, index, where + ("at_most",), rule=rule.id)
        if isinstance(effect, Prefer) and effect.prefer in effect.over:
            loader.problem(f"prefers {effect.prefer} over itself", file, index, where, rule=rule.id)
        if isinstance(effect, Conflict):
            cited = {c.source for c in rule.citations}
            if len(cited) < 2:
                loader.problem("a conflict cites both sides: at least two different sources", file, index,
                               path + ("citations",), rule=rule.id)
    strong = any(isinstance(e, Indicate) and e.strength == "strong" for e in rule.then)
    rationale = (rule.strength_rationale or "").strip()
    if strong and rule.evidence_level >= STRONG_NEEDS_RATIONALE_FROM_LEVEL and not rationale:
        loader.problem(f"a strong indication resting on level-{rule.evidence_level} evidence needs a "
                       "strength_rationale (why the board may still read it as strong), or strength: moderate",
                       file, index, path + ("evidence_level",), rule=rule.id)
    if rule.population is not None and sources:
        study = sources.get(rule.population)
        if study is None or study.population is None:
            loader.problem(f"population {rule.population!r} names no source with a population (inclusion and "
                           f"exclusion criteria) in sources.yaml{did_you_mean(rule.population, sources)}",
                           file, index, path + ("population",), rule=rule.id)
        elif not any(isinstance(e, Indicate) for e in rule.then):
            loader.problem("a population bounds an indication; this rule indicates nothing", file, index,
                           path + ("population",), rule=rule.id)
    for i, effect in enumerate(rule.then):
        # Conservative care is what remains when every procedure is ruled out, and an indicated conservative
        # option must never sit below a procedure at caution (docs/decision.md, 3): nothing may cap it.
        if CONSERVATIVE in effect_options(effect) and not isinstance(effect, Indicate):
            loader.problem(f"{effect_key(effect)} limits {CONSERVATIVE}; conservative care is never capped (a "
                           "limit on it could leave a procedure at caution above an indicated conservative option)",
                           file, index, path + ("then", i), rule=rule.id)
    if sources:
        best = min((sources[c.source].evidence_level or 5 for c in rule.citations if c.source in sources), default=5)
        if rule.evidence_level < best:
            loader.problem(f"evidence_level {rule.evidence_level} is stronger than any cited source (best: {best})",
                           file, index, path + ("evidence_level",), rule=rule.id)


def _check_derivations(loader: _Loader, rules: list[Rule], catalog: FieldCatalog,
                       tested_elsewhere: frozenset[str] = frozenset()) -> None:
    derivers: dict[str, list[Rule]] = {}
    for rule in rules:
        for fact in rule.derives:
            derivers.setdefault(fact, []).append(rule)
    used: dict[str, list[Rule]] = {}
    for rule in rules:
        for name in conditions.fields_of(rule.when):
            spec = catalog.get(name)
            if spec is not None and spec.kind == "fact":
                used.setdefault(name, []).append(rule)
    for name, spec in catalog.specs.items():
        if spec.kind != "fact":
            continue
        if name in derivers and name not in used and name not in tested_elsewhere:
            rule = derivers[name][0]
            loader.problems.append(Problem(f"derives '{name}', but no rule tests it", file=rule.file,
                                           line=rule.line, rule=rule.id))
        if (name in used or name in tested_elsewhere) and name not in derivers:
            user = used[name][0] if name in used else None
            loader.problems.append(Problem(f"tests the derived fact '{name}', but no rule derives it",
                                           file=user.file if user else None, line=user.line if user else None,
                                           rule=user.id if user else None))
    cycle = _find_cycle({fact: {n for r in rs for n in conditions.fields_of(r.when) if n in derivers}
                         for fact, rs in derivers.items()})
    if cycle:
        rule = derivers[cycle[0]][0]
        loader.problems.append(Problem("derivations form a cycle: " + " -> ".join(cycle + [cycle[0]]),
                                       file=rule.file, line=rule.line, rule=rule.id))


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _resolve_fact_inputs(loader: _Loader, catalog: FieldCatalog, rules: list[Rule]) -> FieldCatalog:
    """A derived fact rests on the case inputs of every rule that derives it, transitively."""
    if loader.problems:
        return catalog
    specs = dict(catalog.specs)
    derivers: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.status == "active":
            for fact in rule.derives:
                derivers.setdefault(fact, []).append(rule)
    resolved: dict[str, frozenset[str]] = {}

    def inputs(name: str) -> frozenset[str]:
        spec = specs[name]
        if spec.kind != "fact":
            return spec.inputs
        if name not in resolved:
            resolved[name] = frozenset()  # acyclic by now; guards the recursion anyway
            resolved[name] = frozenset().union(*(inputs(n) for r in derivers.get(name, ())
                                                 for n in conditions.fields_of(r.when)))
        return resolved[name]

    for name, spec in catalog.specs.items():
        if spec.kind == "fact":
            specs[name] = replace(spec, inputs=inputs(name))
    return FieldCatalog(specs)


_PLAN_EFFECTS: dict[str, type[BaseModel]] = {"sessions": SessionLimit, "note": PlanNote}


def _build_plan_rules(loader: _Loader, catalog: FieldCatalog, sources: dict[str, Source]) -> tuple[PlanRule, ...]:
    """The patient-level rules of the plan (rules/plan.yaml): conditions over the patient's fields and the plan's
    facts (plan_fact_specs), effects that split sessions or name levels."""
    plan_catalog = FieldCatalog({**catalog.specs, **plan_fact_specs()})
    found: list[PlanRule] = []
    seen: set[str] = set()
    for name, item, index, path in _listed(loader, "plan"):
        if not isinstance(item, dict) or "when" not in item:
            loader.problem("a plan rule is a mapping with id, title, when, then, text, citations", name, index, path)
            continue
        data = dict(item)
        rule_id = data.get("id") if isinstance(data.get("id"), str) else None
        if rule_id in seen:
            loader.problem("duplicate plan rule id", name, index, path, rule=rule_id)
        seen.add(str(rule_id))
        when = _parse_condition(loader, data.pop("when"), plan_catalog, name, index, path + ("when",), rule_id)
        raw = data.pop("then", None)
        effects: list[BaseModel] = []
        for i, effect in enumerate(raw if isinstance(raw, list) else []):
            keys = [k for k in (effect if isinstance(effect, dict) else {}) if k in _PLAN_EFFECTS]
            if len(keys) != 1:
                loader.problem(f"a plan effect has exactly one of {', '.join(_PLAN_EFFECTS)}", name, index,
                               path + ("then", i), rule=rule_id)
                continue
            model = loader.model(_PLAN_EFFECTS[keys[0]], effect, name, index, path + ("then", i), rule=rule_id)
            if model is not None:
                effects.append(model)
        if when is None or not effects:
            if not effects:
                loader.problem("'then' needs a non-empty list of plan effects", name, index, path, rule=rule_id)
            continue
        data.update(when=when, then=tuple(effects), file=name, line=index.line(path))
        rule = loader.model(PlanRule, data, name, index, path, rule=rule_id)
        if rule is None:
            continue
        for i, citation in enumerate(rule.citations):
            if citation.source not in sources:
                loader.problem(f"unknown source '{citation.source}'", name, index, path + ("citations", i),
                               rule=rule_id)
        found.append(rule)
    return tuple(sorted(found, key=lambda r: r.id))


def _build_constraints(loader: _Loader, catalog: FieldCatalog) -> tuple[Constraint, ...]:
    constraints = []
    for name, item, index, path in _listed(loader, "consistency"):
        if not isinstance(item, dict) or "when" not in item:
            loader.problem("a consistency check is a mapping with id, when and message", name, index, path)
            continue
        data = dict(item)
        cid = data.get("id") if isinstance(data.get("id"), str) else None
        when = _parse_condition(loader, data.pop("when"), catalog, name, index, path + ("when",), cid)
        if when is None:
            continue
        data["when"] = when
        data.setdefault("fields", tuple(sorted(conditions.fields_of(when))))
        constraint = loader.model(Constraint, data, name, index, path, rule=cid)
        if constraint is not None:
            constraints.append(constraint)
    return tuple(sorted(constraints, key=lambda c: c.id))


def _build_questions(loader: _Loader, catalog: FieldCatalog) -> tuple[Question, ...]:
    """When a board would ask about a field: one entry per case input field, whose condition may not read it."""
    questions: dict[str, Question] = {}
    for name, item, index, path in _listed(loader, "questions"):
        if not isinstance(item, dict) or "ask_when" not in item:
            loader.problem("a question is a mapping with field, ask_when and because", name, index, path)
            continue
        data = dict(item)
        field = data.get("field") if isinstance(data.get("field"), str) else None
        spec = catalog.get(field) if field else None
        if field is None or spec is None or spec.origin != "input":
            loader.problem(f"asks about '{field}', which is not a case input field"
                           f"{did_you_mean(str(field), [n for n, s in catalog.specs.items() if s.origin == 'input'])}",
                           name, index, path + ("field",), field=field)
            continue
        when = _parse_condition(loader, data.pop("ask_when"), catalog, name, index, path + ("ask_when",), field)
        if when is None:
            continue
        if field in frozenset().union(*(catalog.inputs_of(n) for n in conditions.fields_of(when))):
            loader.problem(f"the question about '{field}' cannot depend on '{field}' itself", name, index,
                           path + ("ask_when",), field=field)
            continue
        question = loader.model(Question, {**data, "ask_when": when}, name, index, path)
        if question is None:
            continue
        if field in questions:
            loader.problem(f"'{field}' is asked about twice", name, index, path, field=field)
        questions[field] = question
    return tuple(questions[f] for f in catalog.specs if f in questions)


def _build_evidence(loader: _Loader, sources: dict[str, Source]) -> tuple[dict[Any, Any], ...]:
    """Outcome figures, validated by the evidence model but kept as plain mappings for display code."""
    from ..evidence import EvidenceItem

    items: list[dict[Any, Any]] = []
    seen: dict[str, str] = {}
    for name, item, index, path in _listed(loader, "evidence"):
        rule_id = item.get("id") if isinstance(item, dict) else None
        model = loader.model(EvidenceItem, item, name, index, path, rule=rule_id)
        if model is None:
            continue
        if model.id in seen:
            loader.problem(f"duplicate evidence id (first at {seen[model.id]})", name, index, path, rule=model.id)
        seen[model.id] = f"{name}:{index.line(path)}"
        if sources and model.study not in sources:
            loader.problem(f"unknown study {model.study!r}{did_you_mean(model.study, sources)}", name, index,
                           path + ("study",), rule=model.id)
        items.append(item)
    return tuple(items)


# Sections kept as plain mappings: their citations are checked against the citation model here.
_UNMODELLED = frozenset({"invariants"})


def _check_citations_everywhere(loader: _Loader, sources: dict[str, Source]) -> None:
    """Every citation anywhere in the rule base names a declared source and a locator of 4-30 words."""
    lo, hi = LOCATOR_WORDS
    for section, docs in loader.docs.items():
        if section == "sources":
            continue
        for name, body, index, path in docs:
            for where, cite in _citations_in(body, path):
                source = cite.get("source")
                if sources and source not in sources:
                    loader.problem(f"cites unknown source {source!r}{did_you_mean(str(source), sources)}",
                                   name, index, where + ("source",))
                locator = cite.get("locator")
                if not isinstance(locator, str) or not lo <= len(locator.split()) <= hi:
                    loader.problem(f"a locator is a phrase of {lo}-{hi} words copied from the source",
                                   name, index, where + ("locator",))
                if section in _UNMODELLED:  # elsewhere the section's own model checks the citation
                    loader.model(Citation, cite, name, index, where)


def _citations_in(node: Any, path: _Where) -> Iterator[tuple[_Where, dict[Any, Any]]]:
    if isinstance(node, dict):
        if "source" in node and ("locator" in node or "section" in node):
            yield path, node
        for key, value in node.items():
            yield from _citations_in(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _citations_in(value, path + (i,))


def _content_hash(manifest: Manifest, sources: dict[str, Source],
                  scores: list[tuple[Score, str, yamlio.LineIndex, _Where]], scales: tuple[Scale, ...],
                  rules: list[Rule], constraints: tuple[Constraint, ...], evidence: tuple[dict[Any, Any], ...],
                  invariants: tuple[Any, ...], frameworks: tuple[Framework, ...] = (),
                  questions: tuple[Question, ...] = (), plan_rules: tuple[PlanRule, ...] = ()) -> str:
    """Hash of the parsed content, independent of file layout and of the order of rules within files."""
    def key(item: Any) -> str:
        return str(item.get("id", "")) if isinstance(item, dict) else ""

    content = {
        "rulebook": manifest.model_dump(mode="json"),
        "sources": {k: v.model_dump(mode="json") for k, v in sorted(sources.items())},
        "scores": sorted((s[0].model_dump(mode="json") for s in scores), key=lambda s: s["id"]),
        "scales": sorted((s.model_dump(mode="json") for s in scales), key=lambda s: s["id"]),
        "frameworks": [f.model_dump(mode="json") for f in frameworks],
        "rules": [r.model_dump(mode="json") for r in sorted(rules, key=lambda r: r.id)],
        "consistency": [c.model_dump(mode="json") for c in constraints],
        "questions": [q.model_dump(mode="json") for q in questions],
        "evidence": sorted(evidence, key=key),
        "invariants": sorted(invariants, key=key),
    }
    if plan_rules:  # a rule base without plan rules keeps the hash it had before the plan existed
        content["plan"] = [p.model_dump(mode="json") for p in plan_rules]
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
