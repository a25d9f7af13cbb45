#!/usr/bin/env python3
"""Static check that Buildroot's BusyBox has what overlay/ uses: every BusyBox applet, ash built-in and
option that the overlay's scripts run must be turned on by buildroot-external/board/busybox.fragment.

usage: scripts/check-busybox-usage.py [--list] [REPO]

The two images run the same overlay on two BusyBox builds: Debian's (the offline image; its boot test runs
the overlay for real) and Buildroot's, whose default configuration is not in this repository and leaves out
features Debian's has (mount LABEL=, syslogd -C). So the fragment states everything the overlay needs, and
this check proves it does, without Buildroot:

1. It finds the commands the overlay runs: each simple command of its shell scripts (#!/bin/sh files and
   etc/profile, with their $(...) substitutions), the commands of etc/inittab, the login shells of the
   factory passwd, what those commands run themselves (getty runs login) and the console tools docs/image.md
   tells root to use (OPERATOR_TOOLS).
2. Each command must be a shell keyword, a function of its script, an overlay script, a program of a
   Buildroot package the defconfigs select (PROGRAMS), or a BusyBox applet or ash built-in described in
   BUSYBOX below. Anything else is an error: say in BUSYBOX which symbols provide it.
3. Each option given to a BusyBox command (-x, --long, mount -o words and LABEL= sources, ip's objects) and
   each shell feature used ($((...)), bash extensions) must be described there too, with the symbols it
   needs; an unknown one is an error.
4. Every symbol so needed is =y in the fragment.

Options and commands hidden in variables ($opts, $cmd) cannot be seen. Whether BusyBox's own kconfig keeps
each line of the fragment (its dependencies) is checked at build time, by buildroot-external/board/post-build.sh.
--list prints each needed symbol and the places that need it. Exit status 1 with one "error:" line per
problem, or 0 with a summary.
"""
import os
import re
import sys
from dataclasses import dataclass, field

# ---- what BusyBox 1.37 provides, from its sources (applet and option strings, //config: symbols) ----------


@dataclass
class Command:
    """A BusyBox applet or ash built-in: the symbols it needs, and the options the overlay may give it."""

    needs: list
    # short flags: letter -> symbols; a letter followed by ":" in the key takes a value ("o:")
    flags: dict = field(default_factory=dict)
    long: dict = field(default_factory=dict)
    # first operand -> symbols (ip's objects); None: operands are not looked at
    objects: dict = None
    # the command's arguments are operands only (test, echo's words...): no option analysis at all
    operands_only: bool = False
    # other programs it runs by itself
    runs: list = field(default_factory=list)
    # its first operand is a command it runs, with the rest as that command's arguments (exec CMD ARGS...)
    runs_operand: bool = False


ASH = ["SH_IS_ASH", "ASH"]  # /bin/sh of every script and root's login shell
BUSYBOX = {
    # shell built-ins that are always there
    **{name: Command(needs=ASH, operands_only=True) for name in (
        ":", ".", "break", "continue", "eval", "exit", "false", "true", "return", "shift", "times", "trap",
        "type", "ulimit", "wait", "hash", "local", "readonly", "unset", "export")},
    "cd": Command(needs=ASH, flags={"P": [], "L": []}),
    "exec": Command(needs=ASH, operands_only=True, runs_operand=True),
    "sh": Command(needs=ASH, operands_only=True),
    "pwd": Command(needs=ASH, flags={"P": [], "L": []}),
    "read": Command(needs=ASH, flags={"r": [], "p:": [], "t:": [], "n:": [], "s": [], "u:": []}),
    "set": Command(needs=ASH, operands_only=True),
    "umask": Command(needs=ASH, operands_only=True),
    # built-ins behind options of ash
    "[": Command(needs=ASH + ["ASH_TEST"], operands_only=True),
    "test": Command(needs=ASH + ["ASH_TEST"], operands_only=True),
    "alias": Command(needs=ASH + ["ASH_ALIAS"], operands_only=True),
    "command": Command(needs=ASH + ["ASH_CMDCMD"], operands_only=True, runs_operand=True),
    "echo": Command(needs=ASH + ["ASH_ECHO"], flags={"n": ["FEATURE_FANCY_ECHO"], "e": ["FEATURE_FANCY_ECHO"]}),
    "printf": Command(needs=ASH + ["ASH_PRINTF"], operands_only=True),
    # kill is ash's built-in with job control; -SIGNAL and -NUMBER are its only options here
    "kill": Command(needs=ASH + ["ASH_JOB_CONTROL"], operands_only=True),
    # applets
    "cat": Command(needs=["CAT"]),
    "chmod": Command(needs=["CHMOD"], flags={"R": []}),
    "chown": Command(needs=["CHOWN"], flags={"R": [], "h": []}),
    "cp": Command(needs=["CP"], flags={"a": [], "p": [], "r": [], "R": [], "f": []}),
    "getty": Command(needs=["GETTY"], flags={"L": [], "I:": [], "H:": [], "f:": [], "l:": [], "t:": []}, runs=["login"]),
    "grep": Command(needs=["GREP"], flags={"q": [], "v": [], "e:": [], "x": [], "F": [], "w": [], "E": [], "o": []}),
    "head": Command(needs=["HEAD"], flags={"n:": []}),
    "hostname": Command(needs=["HOSTNAME"], flags={"F:": []}),
    "ip": Command(needs=["IP"], objects={"link": ["FEATURE_IP_LINK"], "addr": ["FEATURE_IP_ADDRESS"], "address": ["FEATURE_IP_ADDRESS"],
                                         "route": ["FEATURE_IP_ROUTE"], "rule": ["FEATURE_IP_RULE"], "neigh": ["FEATURE_IP_NEIGH"]},
                  flags={"4": [], "6": [], "o": [], "d": []}),
    "killall": Command(needs=["KILLALL"], flags={"q": []}),
    "klogd": Command(needs=["KLOGD"], flags={"n": [], "c:": []}),
    "ln": Command(needs=["LN"], flags={"s": [], "f": [], "n": []}),
    "logger": Command(needs=["LOGGER"], flags={"t:": [], "p:": [], "s": []}),
    "login": Command(needs=["LOGIN", "FEATURE_SHADOWPASSWDS", "USE_BB_CRYPT", "USE_BB_CRYPT_SHA"], flags={"f:": [], "p": []}),
    "logread": Command(needs=["LOGREAD", "FEATURE_IPC_SYSLOG"], flags={"f": [], "F": []}),
    "dmesg": Command(needs=["DMESG"], flags={"c": [], "n:": [], "s:": [], "r": []}),
    "mkdir": Command(needs=["MKDIR"], flags={"p": [], "m:": []}),
    "mkfifo": Command(needs=["MKFIFO"], flags={"m:": []}),
    "mv": Command(needs=["MV"], flags={"f": []}),
    # modprobe as it reads modules.dep (not the small one)
    "modprobe": Command(needs=["MODPROBE"], flags={"a": [], "q": [], "r": [], "v": [], "D": []}),
    # mount: -o words are handled by mount_words(), LABEL=/UUID= sources by mount_source()
    "mount": Command(needs=["MOUNT"], flags={"t:": [], "o:": [], "r": [], "w": [], "n": []},
                     long={"--move": ["FEATURE_MOUNT_FLAGS"], "--bind": ["FEATURE_MOUNT_FLAGS"], "--rbind": ["FEATURE_MOUNT_FLAGS"]}),
    "passwd": Command(needs=["PASSWD", "FEATURE_SHADOWPASSWDS", "USE_BB_CRYPT", "USE_BB_CRYPT_SHA"], flags={"a:": [], "d": [], "l": [], "u": []}),
    "pidof": Command(needs=["PIDOF"], flags={"s": ["FEATURE_PIDOF_SINGLE"], "o:": ["FEATURE_PIDOF_OMIT"]}),
    "poweroff": Command(needs=["POWEROFF"], flags={"f": [], "n": [], "d:": []}),
    "reboot": Command(needs=["REBOOT"], flags={"f": [], "n": [], "d:": []}),
    "rm": Command(needs=["RM"], flags={"f": [], "r": [], "R": []}),
    # an applet, not an ash built-in: 1.37's ASH_SLEEP is commented out of its Kconfig
    "sed": Command(needs=["SED"], flags={"n": [], "e:": []}),
    "sleep": Command(needs=["SLEEP"]),
    "sort": Command(needs=["SORT"], flags={"u": [], "n": [], "r": []}),
    "sync": Command(needs=["SYNC"]),
    "syslogd": Command(needs=["SYSLOGD"], flags={"C::": ["FEATURE_IPC_SYSLOG"], "n": [], "O:": [], "S": []}),
    "tail": Command(needs=["TAIL"], flags={"n:": []}),
    "touch": Command(needs=["TOUCH"], flags={"c": []}),
    "tr": Command(needs=["TR"]),
    "umount": Command(needs=["UMOUNT"], flags={"f": [], "l": [], "r": []}),
    "usleep": Command(needs=["USLEEP"]),
    # the trial guard's feeder of the hardware watchdog (overlay/usr/lib/orbital/update/trial-guard)
    "watchdog": Command(needs=["WATCHDOG"], flags={"F": [], "T:": [], "t:": []}),
    # BusyBox init reading etc/inittab (its ::sysinit, ::respawn, ::once, ::shutdown... actions)
    "init": Command(needs=["INIT", "FEATURE_USE_INITTAB"]),
}

# mount -o words BusyBox itself interprets (util-linux/mount.c, mount_options[]); any other word goes to the
# kernel as file system data (mode=, size=, gid=...). Without FEATURE_MOUNT_FLAGS, nosuid & co. would go to
# the kernel too, which refuses them.
MOUNT_WORDS = {
    **{w: [] for w in ("ro", "rw", "remount")},
    **{w: ["FEATURE_MOUNT_FLAGS"] for w in (
        "nosuid", "suid", "dev", "nodev", "exec", "noexec", "sync", "dirsync", "async", "atime", "noatime",
        "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime", "lazytime",
        "nolazytime", "nosymfollow", "mand", "nomand", "loud", "rbind", "bind", "move", "shared", "slave",
        "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable")},
    **{w: ["FEATURE_MOUNT_FSTAB"] for w in ("defaults", "noauto", "sw", "swap", "_netdev")},
    "loop": ["FEATURE_MOUNT_LOOP"],
}
MOUNT_SOURCES = {"LABEL=": ["FEATURE_MOUNT_LABEL"], "UUID=": ["FEATURE_MOUNT_LABEL"]}

# Shell features beyond POSIX basics, by the text that uses them.
SHELL_FEATURES = [
    (re.compile(r"\$\(\("), "arithmetic $((...))", ["FEATURE_SH_MATH"]),
    (re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*/"), "bash's ${var/pattern/text}", ["ASH_BASH_COMPAT"]),
    (re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:(?![-=?+])"), "bash's ${var:offset}", ["ASH_BASH_COMPAT"]),
    (re.compile(r"\$'"), "bash's $'...'", ["ASH_BASH_COMPAT"]),
    (re.compile(r"<<<|&>"), "bash's <<< or &>", ["ASH_BASH_COMPAT"]),
    (re.compile(r"(^|[\s;(])\[\[\s"), "bash's [[ ... ]]", ["ASH_BASH_COMPAT"]),
]

# Programs that Buildroot packages install: name -> the package symbol. Used when a defconfig selects it
# (directly, or through the orbital package, which selects nftables).
PROGRAMS = {
    "orbital": "BR2_PACKAGE_ORBITAL", "orbitald": "BR2_PACKAGE_ORBITAL", "orbctl": "BR2_PACKAGE_ORBITAL",
    "orbital-supervise": "BR2_PACKAGE_ORBITAL", "nft": "BR2_PACKAGE_ORBITAL",
    "ip": "BR2_PACKAGE_IPROUTE2", "tc": "BR2_PACKAGE_IPROUTE2", "bridge": "BR2_PACKAGE_IPROUTE2",
    "rauc": "BR2_PACKAGE_RAUC", "dbus-daemon": "BR2_PACKAGE_DBUS",
}

# What docs/image.md ("Logging in") tells root to run on the console, beyond the scripts.
OPERATOR_TOOLS = ["passwd", "logread", "dmesg", "reboot", "poweroff"]

KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac", "{", "}", "!"}

# ---- a small POSIX sh lexer and parser: enough for simple commands and their arguments ---------------------


class ShellSyntaxError(Exception):
    pass


@dataclass
class Token:
    kind: str  # "word" or "op"
    text: str  # the word with quotes removed (expansions kept as written), or the operator
    line: int
    raw: str = ""
    subs: list = field(default_factory=list)  # (line, text) of $(...) and `...` inside the word


OPS = ["&&", "||", ";;", ">>", "<&", ">&", "<>", ">|", "<<", ";", "&", "|", "(", ")", "<", ">", "\n"]


def balanced(src, i, open_ch, close_ch):
    """Index just past the close_ch matching the open_ch before src[i], skipping quotes."""
    depth = 1
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            i = src.index("'", i + 1) + 1
            continue
        if c == '"':
            i = end_of_double_quotes(src, i + 1)
            continue
        if c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ShellSyntaxError(f"unbalanced {open_ch}")


def end_of_double_quotes(src, i):
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        elif src.startswith("$(", i):
            i = balanced(src, i + 2, "(", ")")
        elif src.startswith("${", i):
            i = balanced(src, i + 2, "{", "}")
        elif c == "`":
            i = src.index("`", i + 1) + 1
        else:
            i += 1
    raise ShellSyntaxError("unterminated double quotes")


def lex(src, first_line=1):
    tokens, i, line = [], 0, first_line
    while i < len(src):
        c = src[i]
        if src.startswith("\\\n", i):
            i, line = i + 2, line + 1
            continue
        if c in " \t":
            i += 1
            continue
        if c == "#":
            while i < len(src) and src[i] != "\n":
                i += 1
            continue
        op = next((o for o in OPS if src.startswith(o, i)), None)
        if op:
            if op == "<<":
                raise ShellSyntaxError(f"line {line}: here-documents are not supported by this check")
            tokens.append(Token("op", op, line))
            i += len(op)
            if op == "\n":
                line += 1
            continue
        # a word
        start, text, subs, start_line = i, "", [], line
        while i < len(src) and src[i] not in " \t\n;&|()<>":
            c = src[i]
            if c == "\\":
                text += src[i + 1:i + 2]
                i += 2
            elif c == "'":
                j = src.index("'", i + 1)
                text += src[i + 1:j]
                line += src[i:j].count("\n")
                i = j + 1
            elif c == '"':
                j = end_of_double_quotes(src, i + 1)
                inner = src[i + 1:j - 1]
                subs += substitutions(inner, line)
                text += inner
                line += inner.count("\n")
                i = j
            elif src.startswith("$((", i):
                j = balanced(src, i + 3, "(", ")")
                j = src.index(")", j) + 1
                text += src[i:j]
                i = j
            elif src.startswith("$(", i):
                j = balanced(src, i + 2, "(", ")")
                subs.append((line, src[i + 2:j - 1]))
                text += src[i:j]
                line += src[i:j].count("\n")
                i = j
            elif src.startswith("${", i):
                j = balanced(src, i + 2, "{", "}")
                subs += substitutions(src[i + 2:j - 1], line)
                text += src[i:j]
                i = j
            elif c == "`":
                j = src.index("`", i + 1)
                subs.append((line, src[i + 1:j]))
                text += src[i:j + 1]
                i = j + 1
            else:
                text += c
                i += 1
        # an IO number (2>, 9<) belongs to the redirection that follows
        if re.fullmatch(r"\d+", src[start:i]) and i < len(src) and src[i] in "<>":
            continue
        tokens.append(Token("word", text, start_line, src[start:i], subs))
    return tokens


def substitutions(text, line):
    """The $(...) and `...` inside double quotes or ${...}: (line, body)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$((", i):
            i = balanced(text, i + 3, "(", ")")
        elif text.startswith("$(", i):
            j = balanced(text, i + 2, "(", ")")
            out.append((line + text[:i].count("\n"), text[i + 2:j - 1]))
            i = j
        elif text[i] == "`":
            j = text.index("`", i + 1)
            out.append((line + text[:i].count("\n"), text[i + 1:j]))
            i = j + 1
        elif text[i] == "\\":
            i += 2
        else:
            i += 1
    return out


@dataclass
class Use:
    """A command the overlay runs, with its arguments, where."""

    name: str
    args: list
    where: str


def commands(src, where, first_line=1):
    """Simple commands (name and arguments) of a shell script, and the names of the functions it defines."""
    tokens = lex(src, first_line)
    found, functions, case_states = [], set(), []
    i, command_position = 0, True

    def words_subs(tok):
        for line, body in tok.subs:
            sub_found, sub_functions = commands(body, where, line)
            found.extend(sub_found)
            functions.update(sub_functions)

    while i < len(tokens):
        t = tokens[i]
        state = case_states[-1] if case_states else None
        if state == "subject":
            words_subs(t)
            case_states[-1] = "in"
            i += 1
            continue
        if state == "in":
            if t.kind != "word" or t.text != "in":
                raise ShellSyntaxError(f"{where}:{t.line}: case without in")
            case_states[-1] = "pattern"
            i += 1
            continue
        if state == "pattern":
            if t.kind == "op" and t.text == "\n":
                i += 1
                continue
            if t.kind == "word" and t.text == "esac":
                case_states.pop()
                command_position = False
                i += 1
                continue
            while i < len(tokens) and not (tokens[i].kind == "op" and tokens[i].text == ")"):
                i += 1
            case_states[-1] = "body"
            command_position = True
            i += 1
            continue
        if t.kind == "op":
            if t.text == ";;" and state == "body":
                case_states[-1] = "pattern"
            elif t.text in ("<", ">", ">>", "<&", ">&", "<>", ">|"):
                i += 1  # the target
                if i < len(tokens):
                    words_subs(tokens[i])
                i += 1
                continue
            command_position = True
            i += 1
            continue
        words_subs(t)
        if not command_position:
            i += 1
            continue
        if t.text in KEYWORDS:
            if t.text == "esac" and state == "body":
                case_states.pop()
                command_position = False
            elif t.text == "case":
                case_states.append("subject")
            elif t.text == "for":
                i += 1  # the variable; then "in" and the words, up to ; or a newline
                while i + 1 < len(tokens) and tokens[i + 1].kind == "word":
                    words_subs(tokens[i + 1])
                    i += 1
            i += 1
            continue
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", t.raw):
            i += 1  # an assignment before the command (or alone)
            continue
        if i + 2 < len(tokens) and tokens[i + 1].text == "(" and tokens[i + 2].text == ")":
            functions.add(t.text)
            i += 3
            continue
        args, j = [], i + 1
        while j < len(tokens) and not (tokens[j].kind == "op" and tokens[j].text not in ("<", ">", ">>", "<&", ">&", "<>", ">|")):
            tok = tokens[j]
            if tok.kind == "op":  # a redirection: skip its target
                j += 1
                if j < len(tokens):
                    words_subs(tokens[j])
            else:
                words_subs(tok)
                args.append(tok.text)
            j += 1
        found.append(Use(t.text, args, f"{where}:{t.line}"))
        command_position = False
        i = j
    return found, functions


# ---- the overlay ------------------------------------------------------------------------------------------


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def overlay_scripts(overlay):
    """Shell scripts of the overlay: #!/bin/sh files, and etc/profile (sourced by ash)."""
    for root, _dirs, files in os.walk(overlay):
        for f in sorted(files):
            path = os.path.join(root, f)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            rel = os.path.relpath(path, overlay)
            with open(path, "rb") as fh:
                head = fh.readline()
            if head.startswith(b"#!/bin/sh") or rel == "etc/profile":
                yield rel


def inittab_commands(overlay):
    """etc/inittab's process fields (BusyBox init runs them with sh -c when they hold shell syntax)."""
    path = os.path.join(overlay, "etc", "inittab")
    if not os.path.exists(path):
        return []
    uses = [Use("init", [], "etc/inittab")]
    for n, line in enumerate(read(path).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(":", 3)
        if len(parts) == 4:
            found, _ = commands(parts[3], "etc/inittab", n)
            uses += found
    return uses


def login_shells(overlay):
    """The login shells of the factory accounts that can log in (a password in the factory shadow)."""
    factory = os.path.join(overlay, "usr", "lib", "orbital", "factory")
    if not os.path.exists(os.path.join(factory, "passwd")):
        return []
    shadow = os.path.join(factory, "shadow")
    locked = {f[0] for f in (line.split(":") for line in (read(shadow).splitlines() if os.path.exists(shadow) else [])) if len(f) > 1 and f[1][:1] in ("*", "!")}
    uses = []
    for n, line in enumerate(read(os.path.join(factory, "passwd")).splitlines(), 1):
        fields = line.split(":")
        if len(fields) == 7 and fields[6] and fields[0] not in locked:
            uses.append(Use(fields[6], [], f"usr/lib/orbital/factory/passwd:{n}, the login shell of {fields[0]}"))
    return uses


# ---- the analysis -----------------------------------------------------------------------------------------


def option_needs(cmd, use):
    """Yields (symbols, what) for each option of a use of a BusyBox command; raises ValueError on unknown ones."""
    name = os.path.basename(use.name)
    args = list(use.args)
    if cmd.operands_only:
        return
    operands = []
    while args:
        a = args.pop(0)
        if a == "--":
            operands += args
            break
        if a.startswith("$") or a.startswith('"$'):
            operands.append(a)  # an expansion: cannot be analysed
            continue
        if a.startswith("--"):
            if a not in cmd.long:
                raise ValueError(f"{name} {a}")
            yield cmd.long[a], f"{name} {a}"
            if name == "mount":
                yield from (x for x in mount_words(a[2:]))
            continue
        if a.startswith("-") and len(a) > 1:
            k = 1
            while k < len(a):
                letter = a[k]
                spec = next((s for s in cmd.flags if s.rstrip(":") == letter), None)
                if spec is None:
                    raise ValueError(f"{name} -{letter}")
                yield cmd.flags[spec], f"{name} -{letter}"
                if spec.endswith(":"):
                    value = a[k + 1:]
                    if not value and not spec.endswith("::"):
                        value = args.pop(0) if args else ""
                    if name == "mount" and letter == "o":
                        yield from mount_words(value)
                    break
                k += 1
            continue
        operands.append(a)
    if name == "mount":
        for src in operands:
            for prefix, needs in MOUNT_SOURCES.items():
                if src.startswith(prefix):
                    yield needs, f"mount {prefix}..."
    if cmd.objects is not None and operands:
        obj = operands[0]
        if obj.startswith("$"):
            return
        if obj not in cmd.objects:
            raise ValueError(f"{name} {obj}")
        yield cmd.objects[obj], f"{name} {obj}"


def mount_words(value):
    for word in value.split(","):
        if word.startswith("$") or "=" in word or not word:
            continue  # an expansion, or file system data for the kernel (mode=0755)
        yield MOUNT_WORDS.get(word, []), f"mount -o {word}"


def defconfig_values(repo):
    configs = os.path.join(repo, "buildroot-external", "configs")
    out = {}
    for dc in sorted(f for f in os.listdir(configs) if f.endswith("_defconfig")):
        values = {}
        for line in read(os.path.join(configs, dc)).splitlines():
            m = re.match(r"^(BR2_[A-Za-z0-9_]+)=(.*)$", line)
            if m:
                values[m.group(1)] = m.group(2)
        out[dc] = values
    return out


def fragment_values(path):
    values = {}
    for line in read(path).splitlines():
        m = re.match(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2)
    return values


def check(repo):
    overlay = os.path.join(repo, "overlay")
    fragment_path = os.path.join(repo, "buildroot-external", "board", "busybox.fragment")
    errors, needed = [], {}  # needed: symbol -> {(what needs it, where)}

    def need(symbols, what, where):
        for s in symbols:
            needed.setdefault(s, set()).add((what, where))

    uses, functions_of = [], {}
    for rel in overlay_scripts(overlay):
        src = read(os.path.join(overlay, rel))
        try:
            found, functions = commands(src, rel)
        except (ShellSyntaxError, ValueError) as e:
            errors.append(f"{rel}: cannot be parsed: {e}")
            continue
        functions_of[rel] = functions
        need(ASH, "sh", rel)
        for pattern, what, symbols in SHELL_FEATURES:
            for n, line in enumerate(src.splitlines(), 1):
                if not line.lstrip().startswith("#") and pattern.search(line):
                    need(symbols, what, f"{rel}:{n}")
        uses += found
    # A script that sources another overlay script (". /usr/lib/..." or ". "${0%/*}/NAME"") may call its functions.
    for rel in list(functions_of):
        for m in re.finditer(r'^\s*\. "?(/[^"\s]+|\$\{0%/\*\}/[^"\s]+)"?\s*$', read(os.path.join(overlay, rel)), re.M):
            lib = m.group(1)
            lib = os.path.join(os.path.dirname(rel), lib[len("${0%/*}/"):]) if lib.startswith("${0") else lib.lstrip("/")
            functions_of[rel] = functions_of[rel] | functions_of.get(lib, set())
    uses += inittab_commands(overlay)
    uses += login_shells(overlay)
    uses += [Use(t, [], "docs/image.md, a console tool for root") for t in OPERATOR_TOOLS]
    defconfigs = defconfig_values(repo)

    seen = set()
    while uses:
        use = uses.pop(0)
        name = use.name
        script = use.where.split(":")[0]
        if name in functions_of.get(script, ()) or name in KEYWORDS:
            continue
        if "$" in name or "`" in name:
            errors.append(f"{use.where}: the command is in a variable ({name}): this check cannot tell what runs")
            continue
        base = os.path.basename(name)
        if "/" in name and os.path.lexists(os.path.join(overlay, name.lstrip("/"))):
            continue  # an overlay file: checked as a script of its own when it is one
        providers = {dc: values.get(PROGRAMS[base]) == "y" for dc, values in defconfigs.items()} if base in PROGRAMS else {}
        if providers and all(providers.values()):
            continue  # every defconfig's image has that package's program
        cmd = BUSYBOX.get(base)
        if cmd is None:
            if providers:
                missing = ", ".join(dc for dc, ok in providers.items() if not ok)
                errors.append(f"{use.where}: {base} comes from {PROGRAMS[base]}, which {missing} does not select, and BusyBox's {base} is not described here")
            else:
                errors.append(f"{use.where}: {base} is neither a BusyBox applet or ash built-in known to this check nor a program of a selected package "
                              "(scripts/check-busybox-usage.py: BUSYBOX, PROGRAMS)")
            continue
        need(cmd.needs, base, use.where)
        try:
            for symbols, what in option_needs(cmd, use):
                need(symbols, what, use.where)
        except ValueError as e:
            errors.append(f"{use.where}: {e}: an option this check does not know; say in BUSYBOX which BusyBox symbols it needs")
        if cmd.runs_operand and use.args and not use.args[0].startswith("-"):
            uses.append(Use(use.args[0], use.args[1:], use.where))
        for other in cmd.runs:
            if (base, other) not in seen:
                seen.add((base, other))
                uses.append(Use(other, [], f"{use.where}, run by {base}"))

    fragment = fragment_values(fragment_path) if os.path.exists(fragment_path) else {}
    for symbol in sorted(needed):
        if fragment.get(symbol) != "y":
            errors.append(f"busybox.fragment: CONFIG_{symbol}=y is missing, needed by {places(needed[symbol])}")
    return errors, needed


def places(reasons, most=4):
    """'what (file:line, file:line); what (...)', the first `most` of them and how many more."""
    natural = lambda text: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
    by_what = {}
    for what, where in reasons:
        by_what.setdefault(what, []).append(where)
    items = [f"{what} ({', '.join(sorted(wheres, key=natural))})" for what, wheres in sorted(by_what.items())]
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return "; ".join(items[:most]) + more


def main():
    args = [a for a in sys.argv[1:] if a != "--list"]
    repo = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    errors, needed = check(os.path.abspath(repo))
    if "--list" in sys.argv:
        for symbol in sorted(needed):
            print(f"CONFIG_{symbol}: {places(needed[symbol], 1000)}")
    for e in errors:
        print(f"error: {e}")
    if not errors:
        print(f"ok: busybox.fragment turns on all {len(needed)} BusyBox symbols that overlay/ needs")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
