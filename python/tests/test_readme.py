"""The README's Python examples run as written, in order, in one namespace."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def python_examples():
    text = README.read_text()
    section = text.split("## Python: scikit-learn estimators", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_examples_run_as_written():
    examples = python_examples()
    assert len(examples) == 2
    namespace = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for code in examples:
            exec(compile(code, str(README), "exec"), namespace)
    lines = printed.getvalue().split("\n")
    # The held-out accuracy with half of the values missing, then the cross-validated one.
    assert float(lines[0]) > 0.85, lines
    assert float(lines[1]) > 0.85, lines
