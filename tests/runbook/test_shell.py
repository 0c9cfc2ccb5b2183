"""The one shell reader (runbook/shell.py) that templates and preflight share."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amxwizard.engine.preflight import command_invocations
from amxwizard.runbook.shell import Context, Operator, Redirect, ShellSyntaxError, Word, lex
from amxwizard.runbook.templates import check_shell_template, render_shell, shell_slots


def _words(script: str) -> list[list[str]]:
    return [[w.text for w in c.words] for c in lex(script).commands()]


def test_words_operators_and_quotes() -> None:
    script = "a 'b c' \"d $X\" $'e\\tf' g\\ h; i && j | k # not a word\nl"
    assert _words(script) == [["a", "b c", "d $X", "e\tf", "g h"], ["i"], ["j"], ["k"], ["l"]]
    [first, *_] = lex(script).commands()
    assert [(w.expanded, w.quoted) for w in first.words] == [
        (False, False),
        (False, True),
        (True, True),
        (False, True),
        (False, True),
    ]
    ops = [t.text for t in lex(script).tokens if isinstance(t, Operator)]
    assert ops == [";", "&&", "|", "\n"]


def test_substitutions_redirections_and_here_documents() -> None:
    script = (
        'x=$(date +%s) echo "$(uname -r)" $((1 + 2)) 2>&1 > out.log\n'
        "cat > s.sh <<'EOF'\n"
        "#!/bin/sh\n"
        "run $HOME\n"
        "EOF\n"
        "tail -n 1 s.sh\n"
    )
    commands = lex(script).commands()
    assert [w.text for w in commands[0].words] == ["x=$(date +%s)", "echo", "$(uname -r)", "$((1 + 2))"]
    assert [s for w in commands[0].words for s in w.substitutions] == ["date +%s", "uname -r"]
    assert [(r.op, r.target.text if r.target else None) for r in commands[0].redirects] == [
        (">&", None),
        (">", "out.log"),
    ]
    cat = commands[1]
    [doc] = cat.heredocs
    assert (doc.delimiter, doc.quoted, doc.body, doc.closed) == ("EOF", True, "#!/bin/sh\nrun $HOME", True)
    assert [r.target.text for r in cat.redirects if isinstance(r, Redirect) and r.target] == ["s.sh"]
    assert [w.text for w in commands[2].words] == ["tail", "-n", "1", "s.sh"]


def test_strict_reading_refuses_what_bash_would_and_points_at_it() -> None:
    for script, message, offset in [
        ("echo 'open", "unterminated single-quoted", 5),
        ('echo ok "open', "unterminated double-quoted", 8),
        ("echo $(ls", "unterminated $( )", 5),
        ("echo ${X", "unterminated ${...}", 5),
        ("echo `ls", "unterminated backticks", 5),
        ("cat <<A <<B\nbody\nA\n", "here-document 'B' is never closed", 4),
    ]:
        with pytest.raises(ShellSyntaxError) as caught:
            lex(script, strict=True)
        assert message in str(caught.value) and caught.value.offset == offset, script
        lex(script)  # lenient: read to the end, no error


def test_opaque_spans_are_reported_in_their_context() -> None:
    template = "echo {{a}} \"{{b}}\" '{{c}}' $'{{d}}' <<EOF\n{{e}} $(x {{f}})\nEOF\n# {{g}}"
    spans = {}
    for start in range(len(template)):
        if template.startswith("{{", start):
            spans[start] = template.index("}}", start) + 2
    found = [(template[s.start : s.end], s.context) for s in lex(template, opaque=spans, strict=True).spans]
    assert found == [
        ("{{a}}", Context.BARE),
        ("{{b}}", Context.DOUBLE),
        ("{{c}}", Context.SINGLE),
        ("{{d}}", Context.ANSI_C),
        ("{{e}}", Context.TEXT_HEREDOC),
        ("{{f}}", Context.HEREDOC_SUBST),
        ("{{g}}", Context.COMMENT),
    ]


def test_a_placeholder_in_ansi_c_quotes_is_refused_at_validate_time() -> None:
    [problem] = check_shell_template("printf '%s' $'x{{v}}'", {"v": False})
    assert "cannot be quoted safely inside $'...'" in str(problem)


def test_templates_and_preflight_read_the_same_words(tmp_path: Path) -> None:
    """A value rendered into a command arrives as one word in preflight's reading of it, whatever it holds."""
    template = 'cd {{d}}\nnumactl -N 0 ./build/bin/llama-cli -p {{p}} -m "{{m}}" {{flags}}'
    value = 'it\'s "quoted" $(not run) `nor this` ; & | > <<EOF'
    script = render_shell(
        template, {"d": str(tmp_path), "p": value, "m": value, "flags": "-fa on"}, frozenset({"flags"})
    )
    [numactl, llama] = command_invocations(script, "s", Path("/"))
    assert numactl.program.text == "numactl" and llama.program.text == "./build/bin/llama-cli"
    assert [w.text for w in llama.args] == ["-p", value, "-m", value, "-fa", "on"]
    assert llama.cwd == tmp_path
    assert [s.context for s in shell_slots(template)] == [Context.BARE, Context.BARE, Context.DOUBLE, Context.BARE]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))), max_size=6))
def test_any_quoted_words_read_back_as_themselves(words: list[str]) -> None:
    script = " ".join(shlex.quote(w) for w in ["cmd", *words])
    [command] = lex(script, strict=True).commands()
    assert [w.text for w in command.words] == ["cmd", *words]
    assert all(isinstance(w, Word) and not w.expanded for w in command.words)
