"""Results as JUnit XML (``check --junit``), for CI systems that show test reports.

One ``<testcase classname="resclaims.<paper>" name="<claim> on <subject>">`` per result:
a falsified claim is a ``<failure>`` whose message is the verdict's line and whose body
is the whole counterexample (with its replay command), an unusable subject an
``<error>``, a claim outside the subject's architecture, or one that could judge no
setting, ``<skipped>``.  Each test case
carries the statistics as ``<properties>`` (margin, unit, p_value, alpha, band, scope,
examples); the suite carries the environment and the time the run started (UTC, as
``YYYY-MM-DDTHH:MM:SS``: JUnit's schema has no timezone).  Every attribute and text goes
through :func:`_clean`, so a control character in a subject's name or an exception's
message cannot make the file invalid XML.  Written atomically, like the JSON.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from resclaims.claim import Claim
from resclaims.engine import Result, counterexample, jsonable
from resclaims.report import atomic_write

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # outside XML 1.0's Char
PROPERTIES = ("margin", "unit", "p_value", "alpha", "band", "scope", "examples")
SUITE_PROPERTIES = ("profile", "device", "commit", "dirty", "hypothesis_seed", "resclaims", "torch", "hypothesis")


def junit_xml(results: Sequence[Result], claims: Mapping[str, Claim], env: Mapping[str, Any], seconds: float,
              complete: bool, subject_spec: str | None = None, timestamp: str | None = None) -> str:
    """The JUnit XML document for ``results`` (``claims``: the catalog, for the
    counterexamples; ``subject_spec``: the ``--subject`` the replay commands name;
    ``timestamp``: when the run started, ``YYYY-MM-DDTHH:MM:SS`` in UTC, stamped once by
    the caller so every rewrite of the file keeps it; default: the environment's
    ``started`` if it records one, else now)."""
    counts = {v: sum(r.verdict == v for r in results) for v in ("falsified", "error", "skipped")}
    suite = ET.Element("testsuite", name="resclaims", tests=str(len(results)), failures=str(counts["falsified"]),
                       errors=str(counts["error"]), skipped=str(counts["skipped"]), time=f"{seconds:.3f}",
                       timestamp=_clean(str(timestamp or env.get("started") or now())))
    _properties(suite, {**{k: env.get(k) for k in SUITE_PROPERTIES}, "complete": complete})
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=_clean(f"resclaims.{r.claim.split('.', 1)[0]}"),
                             name=_clean(f"{r.claim} on {r.subject}"), time=f"{r.seconds:.3f}")
        _properties(case, {k: getattr(r, k) for k in PROPERTIES})
        summary = _clean(r.summary)
        if r.verdict == "falsified":
            failure = ET.SubElement(case, "failure", message=summary, type="falsified")
            claim = claims.get(r.claim)
            failure.text = _clean(counterexample(r, claim, subject_spec, str(env.get("device", "cpu")))
                                  if claim else r.summary)
        elif r.verdict == "error":
            ET.SubElement(case, "error", message=summary, type="error").text = summary
        elif r.verdict == "skipped":
            ET.SubElement(case, "skipped", message=summary)
    root = ET.Element("testsuites", name="resclaims", tests=suite.get("tests", "0"), failures=suite.get("failures", "0"),
                      errors=suite.get("errors", "0"), skipped=suite.get("skipped", "0"), time=suite.get("time", "0"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str | Path, results: Sequence[Result], claims: Mapping[str, Claim], env: Mapping[str, Any],
                seconds: float, complete: bool, subject_spec: str | None = None, timestamp: str | None = None) -> None:
    """Write :func:`junit_xml` to ``path`` atomically."""
    atomic_write(path, junit_xml(results, claims, env, seconds, complete, subject_spec, timestamp))


def now() -> str:
    """The current time as JUnit's ``timestamp`` wants it: UTC, ``YYYY-MM-DDTHH:MM:SS``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _properties(parent: ET.Element, values: Mapping[str, Any]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in values.items():
        if value is not None and value != "":
            ET.SubElement(props, "property", name=_clean(name), value=_clean(_text(jsonable(value))))


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, bool)) else str(value)


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters)."""
    return _NOT_XML.sub("?", text)
