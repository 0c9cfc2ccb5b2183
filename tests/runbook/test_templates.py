"""Shell templates: every value is quoted for where it stands, so it can never run anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amxwizard.runbook.templates import (
    Context,
    TemplateError,
    check_shell_template,
    render_shell,
    render_text,
    shell_slots,
)

HOSTILE = [
    "x; touch {marker}",
    "$(touch {marker})",
    "`touch {marker}`",
    "a'b\"; touch {marker}; echo '",
    "line1\ntouch {marker}",
    "x\nEOF\ntouch {marker}\ncat <<'EOF'",
    '\\"; touch {marker} #',
    "${{IFS}}; touch {marker}",
]

TEMPLATES = [
    "printf '%s\\n' {{v}}",
    'printf "%s\\n" "prefix {{v}} suffix"',
    "printf '%s\\n' 'in single {{v}}'",
    "cat <<'EOF'\n{{v}}\nEOF",
    "cat <<EOF\nbody {{v}}\nEOF",
    "printf '%s\\n' ok # comment {{v}}",
    "echo $(printf '%s' {{v}})",
    "echo \"$(printf '%s' {{v}})\"",
]


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_values_never_run(tmp_path: Path, template: str, hostile: str) -> None:
    marker = tmp_path / "pwned"
    value = hostile.format(marker=marker)
    try:
        script = render_shell(template, {"v": value})
    except TemplateError as exc:  # refusing is safe too, but only where a value could end a here-document
        assert "here-document" in str(exc)
        return
    result = _run(script, tmp_path)
    assert not marker.exists(), f"value ran a command:\n{script}"
    assert result.returncode == 0, result.stderr


# Left out: a comment (never run), an unquoted $( ) (its output is word-split by bash, as written), and a quoted
# here-document, whose body is a script: the value lands there quoted, ready for that script's shell.
INTACT = [t for t in TEMPLATES if "comment" not in t and not t.startswith("echo $(") and "<<'EOF'" not in t]


@pytest.mark.parametrize("template", INTACT)
def test_value_arrives_intact(tmp_path: Path, template: str) -> None:
    value = "a b  'c' \"d\" $HOME `e` \\f"
    out = _run(render_shell(template, {"v": value}), tmp_path).stdout
    assert value in out


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40))
def test_any_value_is_one_argument(value: str) -> None:
    script = render_shell("printf '%s\\0' {{v}}", {"v": value})
    out = subprocess.run(["bash", "-c", script], capture_output=True, timeout=10).stdout
    assert out.split(b"\0")[:-1] == [value.encode("utf-8", "surrogateescape")]


def test_quoted_heredoc_writes_a_script_that_gets_the_value(tmp_path: Path) -> None:
    value = "a b  'c' $(touch pwned)"
    script = render_shell("cat > s.sh <<'EOF'\nprintf '%s' {{v}}\nEOF\nbash s.sh", {"v": value})
    assert _run(script, tmp_path).stdout == value
    assert not (tmp_path / "pwned").exists()


def test_args_variables_split_into_words(tmp_path: Path) -> None:
    script = render_shell("printf '<%s>' {{flags}}", {"flags": "-fa on --x 'a b'"}, frozenset({"flags"}))
    assert _run(script, tmp_path).stdout == "<-fa><on><--x><a b>"
    empty = render_shell("printf '<%s>' x {{flags}}", {"flags": ""}, frozenset({"flags"}))
    assert _run(empty, tmp_path).stdout == "<x>"


def test_args_variable_inside_quotes_is_refused() -> None:
    problems = check_shell_template('echo "{{flags}}"', {"flags": True})
    assert problems and "list of arguments" in str(problems[0])


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("echo {{v}}", Context.BARE),
        ('echo "{{v}}"', Context.DOUBLE),
        ("echo '{{v}}'", Context.SINGLE),
        ("cat <<'EOF'\n{{v}}\nEOF", Context.SCRIPT_HEREDOC),
        ("cat <<-EOF\n\t{{v}}\n\tEOF", Context.TEXT_HEREDOC),
        ("echo `{{v}}`", Context.BACKTICK),
        ("echo ${X:-{{v}}}", Context.PARAM),
        ("cat <<EOF\n$(echo {{v}})\nEOF", Context.HEREDOC_SUBST),
        ("echo hi # {{v}}", Context.COMMENT),
        ("echo a#{{v}}", Context.BARE),
        ('echo "$(echo "{{v}}")"', Context.DOUBLE),
        ("echo $( (echo {{v}}) )", Context.BARE),
    ],
)
def test_contexts(template: str, context: Context) -> None:
    assert [s.context for s in shell_slots(template)] == [context]


@pytest.mark.parametrize("template", ["echo 'open", 'echo "open', "cat <<EOF\nno end", "echo $(open"])
def test_unterminated_is_an_error(template: str) -> None:
    with pytest.raises(TemplateError):
        shell_slots(template)


def test_unsafe_places_are_refused_at_validate_time() -> None:
    problems = check_shell_template("echo `{{v}}` {{missing}}", {"v": False})
    messages = [str(p) for p in problems]
    assert any("backticks" in m for m in messages)
    assert any("undefined variable 'missing'" in m for m in messages)


def test_text_heredoc_value_cannot_end_the_document() -> None:
    with pytest.raises(TemplateError, match="end the here-document"):
        render_shell("cat <<EOF\n{{v}}\nEOF", {"v": "x\nEOF\nrm -rf /"})


def test_render_text_and_undefined() -> None:
    assert render_text("{{ a }}/{{b}}", {"a": "1", "b": "$(x)"}) == "1/$(x)"
    with pytest.raises(TemplateError, match="undefined variable 'c'"):
        render_text("{{c}}", {})
