#!/usr/bin/env python3
"""Checks an inputs file against a TOSCA service template before opera runs it.

opera 0.7.0 parses the constraints of property definitions but never applies them, so a
replica count of -1 would reach `docker stack deploy`. This applies them: each input must be
one the template declares, and each value that reaches a property through get_input must have
the property's type and meet its constraints (TOSCA 1.3, 3.6.3). One line per problem, exit 2.
Usage: tosca-check-inputs.py SERVICE_TEMPLATE INPUTS_FILE
"""
import os
import re
import sys

import yaml


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def node_types(template_path):
    """Every node type that the template and its imports define, by name."""
    types, todo = {}, [template_path]
    while todo:
        path = todo.pop()
        doc = load(path)
        types.update(doc.get("node_types") or {})
        todo += [os.path.join(os.path.dirname(path), i) for i in doc.get("imports") or []]
    return types


def property_definition(types, type_name, prop):
    """The definition of property PROP of TYPE_NAME, from it or the type it derives from."""
    while type_name in types:
        definition = (types[type_name].get("properties") or {}).get(prop)
        if definition is not None:
            return definition
        type_name = types[type_name].get("derived_from")
    return None


CONSTRAINTS = {
    "equal": lambda v, a: v == a,
    "greater_than": lambda v, a: v > a,
    "greater_or_equal": lambda v, a: v >= a,
    "less_than": lambda v, a: v < a,
    "less_or_equal": lambda v, a: v <= a,
    "in_range": lambda v, a: a[0] <= v <= a[1],
    "valid_values": lambda v, a: v in a,
    "length": lambda v, a: len(v) == a,
    "min_length": lambda v, a: len(v) >= a,
    "max_length": lambda v, a: len(v) <= a,
    "pattern": lambda v, a: re.fullmatch(a, v) is not None,
}
TYPES = {"integer": int, "string": str, "boolean": bool, "float": (int, float)}


def problems(template_path, inputs):
    topology = load(template_path)["topology_template"]
    declared = topology.get("inputs") or {}
    for name in inputs:
        if name not in declared:
            yield f"input {name}: the template has no such input (it has: {', '.join(declared)})"
    values = {n: inputs.get(n, d.get("default")) for n, d in declared.items()}
    for name, value in values.items():
        if value is None:
            yield f"input {name}: required, and not given"
    types = node_types(template_path)
    for node, node_template in (topology.get("node_templates") or {}).items():
        for prop, given in (node_template.get("properties") or {}).items():
            if not (isinstance(given, dict) and "get_input" in given):
                continue
            name, value = given["get_input"], values.get(given["get_input"])
            definition = property_definition(types, node_template["type"], prop) or {}
            where = f"input {name} = {value!r} (property {prop} of node {node})"
            wanted = TYPES.get(definition.get("type"))
            if value is None or (wanted and (not isinstance(value, wanted) or isinstance(value, bool) != (wanted is bool))):
                yield f"{where}: must be of type {definition.get('type')}"
                continue
            for clause in definition.get("constraints") or []:
                (operator, argument), = clause.items()
                if not CONSTRAINTS[operator](value, argument):
                    yield f"{where}: violates the constraint {operator}: {argument}"


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} SERVICE_TEMPLATE INPUTS_FILE")
    found = list(problems(sys.argv[1], load(sys.argv[2])))
    for problem in found:
        print(f"{sys.argv[2]}: {problem}", file=sys.stderr)
    sys.exit(2 if found else 0)


if __name__ == "__main__":
    main()
