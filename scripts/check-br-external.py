#!/usr/bin/env python3
"""Static check of a Buildroot BR2_EXTERNAL tree (buildroot-external/ by default), without Buildroot's source.

usage: scripts/check-br-external.py [TREE]

1. The tree's Config.in files parse (kconfiglib, Debian package python3-kconfiglib). The BR2_* symbols they
   use but do not define are Buildroot's: they are declared here as stubs (bool), so that a misspelt
   symbol of the tree shows up as one that nobody defines.
2. Every symbol a configs/*_defconfig sets that belongs to the tree (BR2_PACKAGE_<PKG>* of its packages, any
   name with the tree's name in it) is defined by the tree, and the defconfig's value sticks (its
   dependencies allow it: Buildroot's symbols as the defconfig sets them, else y, except the architecture
   symbols (BR2_x86_64, BR2_aarch64: only the defconfig's is y)).
3. Every make variable that package/<pkg>/<pkg>.mk sets or defines is named after the package (<PKG>_*,
   HOST_<PKG>_*), as Buildroot's package infrastructure requires.

It prints one "error:" line per problem and exits 1, or prints a summary and exits 0.
"""
import os
import re
import sys
import tempfile

try:
    import kconfiglib
except ImportError:  # Debian's package, when python3 is not Debian's own (pyenv, venv)
    sys.path.append("/usr/lib/python3/dist-packages")
    import kconfiglib

SYMBOL = re.compile(r"\bBR2_[A-Za-z0-9_]+\b")
DEFINED = re.compile(r"^\s*(?:menu)?config\s+(BR2_[A-Za-z0-9_]+)", re.M)
DEFCONFIG_SET = re.compile(r"^(BR2_[A-Za-z0-9_]+)=(.*)$")
DEFCONFIG_UNSET = re.compile(r"^# (BR2_[A-Za-z0-9_]+) is not set$")
MK_ASSIGN = re.compile(r"^(?:override\s+|export\s+)?([A-Za-z0-9_]+)\s*(?:=|:=|::=|\+=|\?=)")
MK_DEFINE = re.compile(r"^define\s+([A-Za-z0-9_]+)")


def kconfig_files(tree):
    for root, _dirs, files in os.walk(tree):
        for f in files:
            if f == "Config.in" or f.startswith("Config.in."):
                yield os.path.join(root, f)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def check(tree):
    errors = []
    tree = os.path.abspath(tree)
    desc = read(os.path.join(tree, "external.desc"))
    m = re.search(r"^name:\s*(\S+)", desc, re.M)
    if not m:
        return ["external.desc: no name"]
    name = m.group(1)
    path_var = f"BR2_EXTERNAL_{name}_PATH"

    # 1. parse, with Buildroot's symbols stubbed
    texts = {f: read(f) for f in kconfig_files(tree)}
    defined_in_tree = {s for t in texts.values() for s in DEFINED.findall(t)}
    used = {s for t in texts.values() for s in SYMBOL.findall(t)}
    stubs = sorted(used - defined_in_tree - {path_var})
    os.environ[path_var] = tree
    with tempfile.TemporaryDirectory() as tmp:
        top = os.path.join(tmp, "Kconfig")
        with open(top, "w", encoding="utf-8") as f:
            f.write('mainmenu "stubs of Buildroot\'s symbols"\n')
            for s in stubs:
                f.write(f"config {s}\n\tbool \"{s}\"\n")
            f.write(f'source "${path_var}/Config.in"\n')
        try:
            kconf = kconfiglib.Kconfig(top, warn_to_stderr=False)
        except kconfiglib.KconfigError as e:
            return [f"Config.in does not parse: {e}"]
        for w in kconf.warnings:
            if "undefined symbol" in w or "was assigned" in w:
                continue  # Buildroot's symbols are stubs; assignments are checked below
            errors.append(f"kconfig: {w.strip()}")

        def in_tree(sym):
            return any(n.filename and os.path.abspath(n.filename).startswith(tree + os.sep) for n in sym.nodes)

        tree_syms = {s.name for s in kconf.unique_defined_syms if in_tree(s)}
        packages = sorted(d for d in os.listdir(os.path.join(tree, "package")) if os.path.isdir(os.path.join(tree, "package", d)))
        pkg_upper = [p.upper().replace("-", "_") for p in packages]
        for p, up in zip(packages, pkg_upper):
            if f"BR2_PACKAGE_{up}" not in tree_syms:
                errors.append(f"package/{p}: BR2_PACKAGE_{up} is not defined (not in package/{p}/Config.in, or not sourced from Config.in)")

        def belongs(sym):
            return name in sym or any(sym == f"BR2_PACKAGE_{up}" or sym.startswith(f"BR2_PACKAGE_{up}_") for up in pkg_upper)

        # 2. the defconfigs
        configs = os.path.join(tree, "configs")
        defconfigs = sorted(f for f in os.listdir(configs) if f.endswith("_defconfig")) if os.path.isdir(configs) else []
        if not defconfigs:
            errors.append("configs/: no *_defconfig")
        for dc in defconfigs:
            values = {}
            for line in read(os.path.join(configs, dc)).splitlines():
                if (m := DEFCONFIG_SET.match(line)):
                    values[m.group(1)] = m.group(2)
                elif (m := DEFCONFIG_UNSET.match(line)):
                    values[m.group(1)] = "n"
            for sym, value in values.items():
                if belongs(sym) and sym not in tree_syms:
                    errors.append(f"configs/{dc}: {sym} is set but the tree does not define it")
            for s in stubs:  # Buildroot's symbols: as the defconfig sets them, else y; but only the
                # defconfig's architecture is y (the arch choice's symbols are the lowercase ones: BR2_x86_64)
                arch = s[len("BR2_"):][:1].islower()
                on = values.get(s, "n" if arch else "y") == "y"
                kconf.syms[s].set_value("y" if on else "n")
            for sym in tree_syms:
                kconf.syms[sym].unset_value()
            for sym, value in values.items():
                if sym in tree_syms:
                    kconf.syms[sym].set_value(value.strip('"') if kconf.syms[sym].orig_type == kconfiglib.STRING else value)
            for sym, value in values.items():
                if sym in tree_syms:
                    got = kconf.syms[sym].str_value
                    want = value.strip('"') if kconf.syms[sym].orig_type == kconfiglib.STRING else value
                    if got != want:
                        errors.append(f"configs/{dc}: {sym}={value} does not stick (it is {got or 'n'}: its dependencies are not met)")

    # 3. package make variables
    for p, up in zip(packages, pkg_upper):
        mk = os.path.join(tree, "package", p, f"{p}.mk")
        if not os.path.isfile(mk):
            errors.append(f"package/{p}: no {p}.mk")
            continue
        for n, line in enumerate(read(mk).splitlines(), 1):
            m = MK_ASSIGN.match(line) or MK_DEFINE.match(line)
            if not m:
                continue
            var = m.group(1)
            if not (var.startswith(f"{up}_") or var.startswith(f"HOST_{up}_")):
                errors.append(f"package/{p}/{p}.mk:{n}: variable {var} is not named after the package ({up}_*)")

    if not errors:
        print(f"ok: {name}: {len(texts)} Config.in file(s), {len(tree_syms)} symbol(s) of the tree, "
              f"{len(stubs)} Buildroot symbol(s) stubbed, {len(defconfigs)} defconfig(s), {len(packages)} package(s)")
    return errors


def main():
    tree = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "buildroot-external")
    errors = check(tree)
    for e in errors:
        print(f"error: {e}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
