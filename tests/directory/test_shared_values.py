"""share_values: equal immutable values become one object, nothing else changes (the
gazetteer cache is written through it, issue 15)."""

from __future__ import annotations

import marshal

from directory.gazetteer_index import build_index, packaged_data, parse_records
from directory.shared_values import share_values


def test_equal_values_become_one_object_and_the_tree_stays_equal() -> None:
    a, b = "".join(["com", "mune"]), "".join(["comm", "une"])
    assert a is not b
    tree = {"rows": [(a, 1.5, (7,)), (b, 1.5, (7,))], "by": {a: (7,), "x": [(7,)]}}
    shared = share_values(tree)
    assert shared == tree
    first, second = shared["rows"]
    assert first[0] is second[0] and first[1] is second[1] and first[2] is second[2]
    assert shared["by"]["commune"] is first[2] is shared["by"]["x"][0]
    assert shared["rows"] is not tree["rows"]  # mutable containers are copies, never shared


def test_values_equal_but_of_another_type_or_sign_stay_apart() -> None:
    shared = share_values([(1,), (1.0,), (True,), 0.0, -0.0, (0.0,), (-0.0,)])
    assert [type(t[0]) for t in shared[:3]] == [int, float, bool]
    assert str(shared[4]) == "-0.0" and str(shared[6][0]) == "-0.0"
    assert shared[0] is not shared[1] is not shared[2]


def test_the_packaged_index_is_equal_smaller_and_shared_after_marshal() -> None:
    index = build_index(parse_records(packaged_data()))
    shared = share_values(index)
    assert shared == index
    dumped = marshal.dumps(shared)
    assert len(dumped) < len(marshal.dumps(index))
    loaded = marshal.loads(dumped)
    kinds = {id(record[2]) for record in loaded["records"]}
    assert len(kinds) == 5  # commune, deleguee, associee, arrondissement, localite
