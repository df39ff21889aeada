"""Hostile project text cannot run commands: the Lua script (free edition) puts timeline names and
marker text into a JSON request file and quotes only paths, per platform.

The Lua runs in a real interpreter (LuaJIT 2.1 through lupa, like Resolve's own Lua). POSIX
quoting is checked by executing it in /bin/sh. Windows quoting cannot be executed here, so it
is checked against `cmd_exe_argv`, a model of how `cmd.exe /c LINE` and the C runtime turn a
line into argv, written from the documented rules:
- `cmd /c`: when the line starts with a quote (and is not the single-quoted-program case),
  the first and the last quote are removed (`cmd /?`, "processing of quote characters");
- phase 1, percent expansion in command-line mode: `%name%` becomes the variable's value when
  it is defined; when it is not, the text is kept and scanning resumes at the second `%`
  (dbenham/jeb, "How does the Windows Command Interpreter (CMD.EXE) parse scripts?",
  stackoverflow.com/questions/4094699); a line feed ends the command;
- phase 2: `"` toggles quoting (and stays); outside quotes `^` escapes the next character and is
  removed, and an unescaped `&`, `|`, `<` or `>` starts another command or a redirection;
- CreateProcess/CommandLineToArgvW: the program name runs to the next quote when it starts with
  one; later arguments split at blanks outside quotes, 2n backslashes before a quote give n and
  toggle quoting, 2n+1 give n and a literal quote, other backslashes are literal
  (learn.microsoft.com, "Parsing C command-line arguments").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from fake_resolve import Resolve, timeline_2997

ROOT = Path(__file__).resolve().parents[2]
LUA_TEMPLATE = ROOT / "plugins" / "resolve" / "entry_script.lua"

HOSTILE = [
    'Reel "1" & del /q *', "a|b", "50% off %PATH% %b%", "^caret^", "$HOME $(id) `id`", "it's", "!bang!",
    "<in> >out", "(paren)", r"back\slash\\", 'trailing backslash\\', r'q\"uote', "Zoë — 東京 🎬", "tab\there",
    "", " ", "semi;colon", "*?[glob]", "--request", "-n",
]
NEWLINES = ["line\nbreak", "cr\rhere"]


# ---- the Lua functions, taken from the script itself -----------------------------------------

WINDOWS_BRIDGE = [r"C:\Users\A&B (x) 100%\^py!\python.exe", "-m", "mfmjt_cli", "resolve-bridge"]


def _quoting_block(lua, windows: bool, bridge_command: str = ""):
    text = LUA_TEMPLATE.read_text(encoding="utf-8")
    block = text[text.index("-- BEGIN command-line quoting"):text.index("-- END command-line quoting")]
    functions = lua.lua.execute(
        f"local WINDOWS = {'true' if windows else 'false'}\nlocal BRIDGE_COMMAND = [==[{bridge_command}]==]\n"
        + block + "\nreturn {posix = quote_posix, windows = quote_windows, json = json_string, "
        "object = json_object, line = bridge_line}")
    return {name: functions[name] for name in ("posix", "windows", "json", "object", "line")}


@pytest.fixture
def lua_quoting(lua):
    """The script's quoting block run on its own; returns its functions (as Python callables)."""
    return _quoting_block(lua, windows=False)


def _sh_argv(line: str) -> list[str]:
    """The words /bin/sh makes of `line` (printed NUL-separated by printf)."""
    out = subprocess.run(["/bin/sh", "-c", "printf '%s\\0' " + line], capture_output=True, timeout=10, check=True)
    return out.stdout.decode("utf-8").split("\0")[:-1]


# ---- a model of cmd.exe /c and the C runtime ---------------------------------------------------

class Injected(Exception):
    """cmd.exe would have started another command or a redirection."""


def _percent_expand(line: str, env: dict[str, str]) -> str:
    upper = {k.upper(): v for k, v in env.items()}
    out, i = [], 0
    while i < len(line):
        if line[i] != "%":
            out.append(line[i])
            i += 1
            continue
        j = line.find("%", i + 1)
        if j < 0:
            out.append(line[i:])
            break
        name = line[i + 1:j]
        if name.upper() in upper and name:
            out.append(upper[name.upper()])
            i = j + 1
        else:  # undefined: kept; scanning resumes at the second %
            out.append(line[i:j])
            i = j
    return "".join(out)


def _cmd_phase2(line: str) -> str:
    out, quoted, i = [], False, 0
    while i < len(line):
        c = line[i]
        if c == '"':
            quoted = not quoted
            out.append(c)
        elif quoted:
            out.append(c)
        elif c == "^":
            i += 1
            if i < len(line):
                out.append(line[i])
        elif c in "&|<>":
            raise Injected(f"unescaped {c!r} in {line!r}")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _msvcrt_argv(line: str) -> list[str]:
    if line.startswith('"'):
        end = line.index('"', 1)
        program, i = line[1:end], end + 1
    else:
        end = len(line) if not line.split() else len(line.split()[0])
        program, i = line[:end], end
    args, n = [program], len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        arg, quoted = [], False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                if j < n and line[j] == '"':
                    arg.append("\\" * ((j - i) // 2))
                    if (j - i) % 2:
                        arg.append('"')
                        j += 1
                else:
                    arg.append("\\" * (j - i))
                i = j
            elif line[i] == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    arg.append('"')
                    i += 2
                else:
                    quoted = not quoted
                    i += 1
            else:
                arg.append(line[i])
                i += 1
        args.append("".join(arg))


def cmd_exe_argv(line: str, env: dict[str, str], redirect: str = "") -> list[str]:
    """argv of the program that `cmd.exe /c LINE` starts (see the module's docstring); `redirect`
    is a redirection the caller put at the end on purpose (taken off before parsing)."""
    if "\n" in line:
        raise Injected("a line feed ends the command")
    if line.startswith('"'):
        last = line.rindex('"')
        line = line[1:last] + line[last + 1:]
    if redirect:
        assert line.endswith(redirect), line
        line = line[: -len(redirect)]
    return _msvcrt_argv(_cmd_phase2(_percent_expand(line, env)))


CMD_ENV = {"PATH": r"C:\Windows", "b": "EXPANDED", "USERNAME": "ed", "HOME": "X"}


def test_the_cmd_model_catches_the_old_quoting():
    """The quoting the script used before (`"` + `\\"` + `"`) lets `&` through in this model."""
    old = '"' + 'Reel "1 & calc'.replace('"', '\\"') + '"'
    with pytest.raises(Injected):
        cmd_exe_argv('"prog.exe --name ' + old + '"', CMD_ENV)
    assert cmd_exe_argv('prog.exe "%b%"', CMD_ENV) == ["prog.exe", "EXPANDED"]  # and % expands in quotes


# ---- the quoting functions -------------------------------------------------------------------

@pytest.mark.parametrize("text", HOSTILE)
def test_posix_quoting_round_trips_through_sh(lua, lua_quoting, text):
    from mfmjt_resolve.installer import shell_line

    assert _sh_argv(lua_quoting["posix"](text)) == [text]
    assert _sh_argv(shell_line([text, "x"], "linux")) == [text, "x"]
    posix = _quoting_block(lua, windows=False, bridge_command=shell_line([f"/opt/{text}/python3", "-m", "m"]))
    assert _sh_argv(posix["line"](text).removesuffix(" 2>&1")) == [f"/opt/{text}/python3", "-m", "m",
                                                                    "--request", text]


@pytest.mark.parametrize("text", HOSTILE)
def test_windows_quoting_round_trips_through_cmd_exe(lua, lua_quoting, text):
    from mfmjt_resolve.installer import cmd_quote, shell_line

    assert lua_quoting["windows"](text) == cmd_quote(text)  # one rule in the Lua script and the installer
    windows = _quoting_block(lua, windows=True, bridge_command=shell_line(WINDOWS_BRIDGE, "win32"))
    line = windows["line"](text)  # what the script hands to io.popen
    assert cmd_exe_argv(line, CMD_ENV, redirect=" 2>&1") == [*WINDOWS_BRIDGE, "--request", text]


@pytest.mark.parametrize("text", NEWLINES)
def test_windows_quoting_refuses_line_breaks(lua_quoting, lua, text):
    from mfmjt_resolve.installer import cmd_quote

    with pytest.raises(lua.lupa.LuaError):
        lua_quoting["windows"](text)
    with pytest.raises(ValueError, match="line break"):
        cmd_quote(text)
    assert _sh_argv(lua_quoting["posix"](text)) == [text]  # sh keeps them inside '...'


def test_json_strings_round_trip(lua_quoting, lua):
    for text in [*HOSTILE, *NEWLINES, "\x00nul\x01\x1f\x7f", "\u2028sep", '{"a": [1]}']:
        assert json.loads(lua_quoting["json"](text)) == text
    fields = lua.lua.table_from({"prompt": 'say "hi" & exit', "name": "Zoë\n2"})
    assert json.loads(lua_quoting["object"](fields)) == {"prompt": 'say "hi" & exit', "name": "Zoë\n2"}


# ---- end to end: the script, a real shell, a bridge that records what it got -------------------

RECORDER = '''
import json, sys, wave
args = sys.argv[1:]
request = json.loads(open(args[args.index("--request") + 1], encoding="utf-8").read())
log = sys.argv[0] + ".log"
with open(log, "a", encoding="utf-8") as f:
    f.write(json.dumps({"argv": args, "request": request}) + "\\n")
wav = sys.argv[0] + ".wav"
with wave.open(wav, "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(48000); w.writeframes(bytes(4 * 48000 * 10))
print("progress\\t0.5\\tsampling")
print("result\\t" + wav + "\\t7\\t480000\\t48000")
'''


@pytest.mark.skipif(os.name == "nt", reason="the POSIX half; Windows quoting is checked against the model")
def test_hostile_timeline_name_and_marker_reach_the_bridge_intact(tmp_path, lua):
    from mfmjt_resolve.installer import shell_line

    folder = tmp_path / "it's $HOME & \"x\" `id` %PATH% ü"  # the user's folders can be hostile too
    folder.mkdir()
    recorder = folder / "bridge $(id).py"
    recorder.write_text(RECORDER, encoding="utf-8")
    canary = tmp_path / "pwned"
    name = f"Reel \"1\" ; touch {canary} & echo $(touch {canary}) `touch {canary}` | %PATH% ^ ü"
    note = f"steps'; touch {canary}; echo '\nsecond line \"&\" $HOME"
    script = tmp_path / "script.lua"
    script.write_text(LUA_TEMPLATE.read_text(encoding="utf-8")
                      .replace("@MFMJT_BRIDGE_COMMAND@", shell_line([sys.executable, str(recorder)]))
                      .replace("@MFMJT_SETTINGS_FILE@", str(folder / "resolve.json"))
                      .replace("@MFMJT_RENDER_DIR@", str(folder)), encoding="utf-8")
    timeline = timeline_2997()
    timeline.name = name
    timeline.SetMarkInOut(10, 39)
    timeline.AddMarker(12, "Green", "m", note, 1)
    resolve = Resolve(timeline)
    resolve.project.LoadRenderPreset("H.264 Master")

    outcome = lua.run_script(script, resolve, [])
    assert "error" not in outcome, outcome
    (entry,) = [json.loads(line) for line in Path(str(recorder) + ".log").read_text(encoding="utf-8").splitlines()]
    request_file = entry["argv"][entry["argv"].index("--request") + 1]
    assert entry["argv"] == ["--request", request_file]  # nothing from the project on the command line
    assert entry["request"]["prompt"] == note
    assert entry["request"]["name"] == f"{name}_108010-108039"
    assert entry["request"]["settings"] == str(folder / "resolve.json")
    assert Path(entry["request"]["video"]).parent == folder
    assert not canary.exists()
    assert not Path(request_file).exists()  # removed after the bridge ran
    with wave.open(outcome["wav"], "rb") as w:
        assert w.getnframes() == 480000


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read the request file"),
    ('["a list"]', "is not a JSON object"),
    ('{"video": "v.mp4", "shell": "rm -rf /"}', "unknown keys in the request file: shell"),
    ('{"video": "v.mp4", "seed": "three"}', "seed in the request file must be a number"),
    ("{}", "no video given"),
])
def test_a_bad_request_file_is_one_error_record(tmp_path, content, message):
    request = tmp_path / "r.json"
    request.write_text(content, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mfmjt_cli", "resolve-bridge", "--request", str(request)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    kind, code, text = proc.stdout.rstrip("\n").split("\t")  # one record (not imported: the
    assert (kind, code) == ("error", "bad_request") and message in text  # tests use the installed copy)
