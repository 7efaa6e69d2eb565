"""Hypothesis strategies for JSON, well-formed and misshapen."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["1.5", "NaN", "Infinity", "-0", "1e999", "2026-11-24", "Debit", ""])
)

#: Any JSON value (as ``json.loads`` would give, floats included).
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mutations(draw: st.DrawFn, good: Any) -> Any:
    """``good`` (a JSON object) with some keys, at any depth, replaced by junk or removed."""

    def mutate(value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                action = draw(st.sampled_from(["keep", "keep", "junk", "drop", "recurse"]))
                if action == "junk":
                    out[key] = draw(json_values)
                elif action == "recurse" and depth < 4:
                    out[key] = mutate(item, depth + 1)
                elif action != "drop":
                    out[key] = item
            return out
        if isinstance(value, list) and value:
            index = draw(st.integers(0, len(value) - 1))
            return [mutate(v, depth + 1) if i == index else v for i, v in enumerate(value)]
        return draw(json_values) if draw(st.booleans()) else value

    return mutate(good, 0)
