#!/usr/bin/python3
"""Checks that the deploy files only query metrics sluice exports, with labels it sets.

    check_metric_refs.py dashboard deploy/grafana/sluice-dashboard.json [--promtool PATH]
    check_metric_refs.py rules deploy/prometheus/alerts.yml

A misspelt metric or label value in a dashboard or an alert is not an error anywhere else: the
query just returns nothing, the panel stays empty and the alert never fires. This script holds
the list of metric families sluice exposes on its admin listener (keep it in step with the C++
metrics) and rejects any other series name, any label that family does not carry, and any value
outside a label's fixed set (decision, method_class, status_class, reason, result).

`dashboard` also checks the dashboard's shape (valid JSON, the ${DS_PROMETHEUS} input used by
every panel and query, unique panel ids) and, given --promtool, that every query parses as
PromQL, by handing them to `promtool check rules` as recording rules with Grafana's variables
replaced. `rules` accepts, besides sluice's metrics, the series the file records itself and `up`.

Exit status 0 when everything checks out, 1 with one line per problem otherwise.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

# Families sluice exposes, with their labels. Target labels added by Prometheus (instance, job)
# are allowed on every series.
FAMILIES = {
    "sluice_requests_total": {"route", "method_class", "decision"},
    "sluice_responses_total": {"route", "status_class"},
    "sluice_limit_hits_total": {"route", "limit"},
    "sluice_request_duration_seconds": {"route"},
    "sluice_upstream_duration_seconds": {"route"},
    "sluice_requests_in_flight": set(),
    "sluice_client_connections": set(),
    "sluice_client_connection_keys": set(),
    "sluice_connections_refused_total": {"reason"},
    "sluice_admin_refused_total": {"reason"},
    "sluice_websocket_connections": {"route"},
    "sluice_websocket_refused_total": {"route", "reason"},
    "sluice_key_table_keys": set(),
    "sluice_key_table_capacity": set(),
    "sluice_key_table_evictions_total": set(),
    "sluice_key_table_evictions_limited_total": set(),
    "sluice_upstream_connect_errors_total": set(),
    "sluice_upstream_timeouts_total": set(),
    "sluice_config_reloads_total": {"result"},
    "sluice_config_last_reload_success_timestamp_seconds": set(),
    "sluice_build_info": {"version"},
}
HISTOGRAMS = {"sluice_request_duration_seconds", "sluice_upstream_duration_seconds"}
TARGET_LABELS = {"instance", "job"}

# Labels whose values are a fixed set.
LABEL_VALUES = {
    "decision": {"allowed", "limited", "exempt", "shadow", "error"},
    "method_class": {"read", "write"},
    "status_class": {"1xx", "2xx", "3xx", "4xx", "5xx"},
    "reason": {"per_ip", "per_route", "global", "reserve", "descriptors", "host", "too_large",
               "malformed", "token", "token_throttled"},
    "result": {"success", "failure"},
}


def series_labels():
    """Every series name a query may select, with the labels it carries."""
    names = {}
    for family, labels in FAMILIES.items():
        if family in HISTOGRAMS:
            names[family + "_bucket"] = labels | {"le"}
            names[family + "_sum"] = set(labels)
            names[family + "_count"] = set(labels)
        else:
            names[family] = set(labels)
    return names


# Words that may stand where a series name could: PromQL keywords and operators.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "atan2"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
IDENT = re.compile(r"(?<![\w.$:])([a-zA-Z_:][\w:]*)")


def check_expr(expr, where, known, problems):
    """Appends to problems every unknown series, label or label value in one PromQL expression.

    known maps a series name to its label set, or to None when its labels are not checked.
    Returns the set of series names the expression selects.
    """
    used = set()
    # Selectors with a matcher list: name{...}.
    for m in re.finditer(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        name, body = m.group(1), m.group(2)
        if name in KEYWORDS:
            continue
        for lm in MATCHER.finditer(body):
            label, op, value = lm.groups()
            labels = known.get(name)
            if labels is not None and label not in labels | TARGET_LABELS:
                problems.append(f"{where}: {name} has no label {label!r}: {expr!r}")
            if op in ("=", "!=") and label in LABEL_VALUES and value not in LABEL_VALUES[label]:
                problems.append(f"{where}: {label}={value!r} is not one of "
                                f"{sorted(LABEL_VALUES[label])}: {expr!r}")
    # Strip what is not a series name: strings, matchers, ranges, grouping label lists.
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    groupings = [g.group(2) for g in GROUPING.finditer(bare)]
    bare = GROUPING.sub(" ", bare)
    bare = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?\b", " ", bare)
    for m in IDENT.finditer(bare):
        word = m.group(1)
        after = bare[m.end():].lstrip()
        if word in KEYWORDS or after.startswith("("):
            continue  # a keyword, or a function / aggregation name
        if word not in known:
            problems.append(f"{where}: {word!r} is not a series sluice exposes: {expr!r}")
        else:
            used.add(word)
    # Grouping labels must exist on at least one series of the expression.
    available = set(TARGET_LABELS) | {"le"}
    for name in used:
        if known[name] is None:
            available = None
            break
        available |= known[name]
    if available is not None:
        for group in groupings:
            for label in filter(None, (x.strip() for x in group.split(","))):
                if label not in available:
                    problems.append(f"{where}: no series here carries label {label!r}: {expr!r}")
    return used


def grafana_to_promql(expr):
    """Replaces Grafana's variables so that promtool can parse the query."""
    expr = re.sub(r"\$__rate_interval|\$\{__rate_interval\}", "5m", expr)
    expr = re.sub(r"\$__interval|\$\{__interval\}", "1m", expr)
    expr = re.sub(r"\$__range|\$\{__range\}", "1h", expr)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def check_dashboard(path, promtool, problems):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    ds_inputs = [i for i in dash.get("__inputs", []) if i.get("name") == "DS_PROMETHEUS"]
    if not ds_inputs or ds_inputs[0].get("pluginId") != "prometheus":
        problems.append(f"{path}: no __inputs entry DS_PROMETHEUS for the prometheus plugin")
    if not 36 <= int(dash.get("schemaVersion", 0)) <= 39:
        problems.append(f"{path}: schemaVersion {dash.get('schemaVersion')} (want about 38)")

    known = series_labels()
    exprs = []  # (where, expr)
    ids = set()

    def visit(panel):
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in ids:
            problems.append(f"{where}: duplicate panel id")
        ids.add(panel.get("id"))
        for sub in panel.get("panels", []):
            visit(sub)
        if panel.get("type") == "row":
            return
        if panel.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            problems.append(f"{where}: datasource is not ${{DS_PROMETHEUS}}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no queries")
        for t in targets:
            if t.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
                problems.append(f"{where} query {t.get('refId')}: "
                                "datasource is not ${DS_PROMETHEUS}")
            expr = t.get("expr", "")
            if not expr.strip():
                problems.append(f"{where} query {t.get('refId')}: empty expr")
                continue
            exprs.append((f"{where} query {t.get('refId')}", expr))

    for panel in dash.get("panels", []):
        visit(panel)
    if len(ids) < 2:
        problems.append(f"{path}: no panels")

    for ann in dash.get("annotations", {}).get("list", []):
        if ann.get("expr"):
            where = f"annotation {ann.get('name')!r}"
            if ann.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
                problems.append(f"{where}: datasource is not ${{DS_PROMETHEUS}}")
            exprs.append((where, ann["expr"]))

    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else (query or "")
        where = f"variable {var.get('name')!r}"
        if var.get("definition", query) != query:
            problems.append(f"{where}: definition {var['definition']!r} differs from the query")
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query)
        if not m:
            problems.append(f"{where}: expected label_values(<series>, <label>), got {query!r}")
            continue
        selector, label = m.groups()
        used = check_expr(selector, where, known, problems)
        if len(used) != 1:
            problems.append(f"{where}: expected one sluice series in {query!r}")
        elif label not in known[used.pop()] | TARGET_LABELS:
            problems.append(f"{where}: the series in {query!r} has no label {label!r}")

    for where, expr in exprs:
        if not check_expr(expr, where, known, problems):
            problems.append(f"{where}: selects no sluice series: {expr!r}")

    if promtool:
        check_promql_syntax(promtool, exprs, problems)
    return len(exprs)


def check_promql_syntax(promtool, exprs, problems):
    """Parses every query with promtool, as the expressions of throwaway recording rules."""
    if not (os.path.isfile(promtool) and os.access(promtool, os.X_OK)):
        problems.append(f"promtool not found ({promtool!r}): install the Debian package "
                        "'prometheus' and re-run cmake")
        return
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": grafana_to_promql(expr)}
        for i, (_, expr) in enumerate(exprs)]}]}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard_queries.yml")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(rules, f)  # JSON is YAML
        run = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
    if run.returncode != 0:
        problems.append("promtool rejects a dashboard query (dashboard:query_N is the N-th "
                        "query in panel order):\n" + run.stdout + run.stderr)


def rule_entries(path):
    """The rules of a Prometheus rule file as (record or alert name, is_record, expr).

    A small reader for the layout of our own file (no PyYAML on the test machines): a rule
    starts at "- record:" or "- alert:", and its expr is either inline or a block scalar
    (">", ">-", "|") made of the more indented lines below it.
    """
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    entries = []
    current = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*-\s+(record|alert):\s*(\S+)", line)
        if m:
            current = [m.group(2), m.group(1) == "record"]
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if m and current is not None:
            indent, value = len(m.group(1)), m.group(2).strip()
            if value in (">", ">-", "|", "|-"):
                block = []

                def continues(next_line):
                    return not next_line.strip() or len(next_line) - len(next_line.lstrip()) > indent

                while i + 1 < len(lines) and continues(lines[i + 1]):
                    i += 1
                    block.append(lines[i].strip())
                value = " ".join(x for x in block if x)
            elif value[:1] in ("'", '"') and value[-1:] == value[:1]:
                value = value[1:-1]
            entries.append((current[0], current[1], value))
            current = None
        i += 1
    return entries


def check_rules(path, problems):
    entries = rule_entries(path)
    if not entries:
        problems.append(f"{path}: no rules found")
    known = series_labels()
    known.update({name: None for name, is_record, _ in entries if is_record})
    known["up"] = set()
    for name, _, expr in entries:
        where = f"rule {name!r}"
        if not check_expr(expr, where, known, problems):
            problems.append(f"{where}: selects no series: {expr!r}")
    return len(entries)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["dashboard", "rules"])
    parser.add_argument("file")
    parser.add_argument("--promtool", help="also parse every dashboard query with promtool")
    args = parser.parse_args()

    problems = []
    if args.kind == "dashboard":
        count = check_dashboard(args.file, args.promtool, problems)
    else:
        count = check_rules(args.file, problems)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    what = "queries" if args.kind == "dashboard" else "rules"
    print(f"{args.file}: {count} {what}, every series one sluice exposes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
