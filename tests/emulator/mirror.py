#!/usr/bin/env python3
"""Checks a mirror directory against the emulator's contents (content.py): the control
endpoint POST /_emulator/mirror {"dir": path} (the emulator runs on the test's machine), or
`python3 mirror.py DIR`.  The answer:

    {"files": {name: {"size": n, "ok": true|false}}, "other": [names of hcdl's own files]}

A file is "ok" when its bytes are the object's first `size` bytes, i.e. the store's bytes at
some moment (objects only grow by appending).  hcdl's own files (.hcdl-*, *.part,
*.part.state) are listed under "other".
"""
import json
import os
import sys

import content


def same_as_object(name, data):
    """data == the object's first len(data) bytes (the pattern doubled once, sliced per file)."""
    pos, i = content.shift(name), 0
    while i < len(data):
        n = min(len(data) - i, content.P)
        if data[i:i + n] != _doubled[0][pos:pos + n]:
            return False
        pos, i = (pos + n) % content.P, i + n
    return True


_doubled = []


def check(path):
    if not _doubled:
        _doubled.append(content.pattern() * 2)
    out = {"files": {}, "other": []}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if name.startswith(".hcdl-") or name.endswith((".part", ".part.state", ".part.state.tmp")):
            out["other"].append(name)
            continue
        if not os.path.isfile(full) or os.path.islink(full):
            out["other"].append(name)
            continue
        with open(full, "rb") as f:
            data = f.read()
        out["files"][name] = {"size": len(data), "ok": same_as_object(name, data)}
    return out


if __name__ == "__main__":
    json.dump(check(sys.argv[1]), sys.stdout)
