"""Run a command and report its peak memory: ``python -m tests.reliability.peak [options] -- CMD``.

The peak resident set size comes from ``resource.getrusage(RUSAGE_CHILDREN)`` in this
small process, whose only child is the command, so nothing else is counted. With
``--stdin FILE`` the file's lines are written to the command's stdin; with
``--until-id N`` stdin stays open until a JSON-RPC answer with id ``N`` appears on
stdout (an MCP server over stdio drops requests still in flight at end of input), or
stdout ends. Prints one JSON object: returncode, peak_rss_mb, stdout and stderr tails
and, with ``--until-id``, the answer.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from typing import Any

__all__ = ["main"]


def _until(
    command: list[str], stdin: str, until_id: int
) -> tuple[int, bytes, bytes, dict[str, Any] | None]:
    answer = None
    # stderr to a file: a full pipe nobody reads while we wait on stdout would hang.
    with tempfile.TemporaryFile() as err_file, open(stdin, "rb") as source:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_file
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(source.read())
        process.stdin.flush()
        chunks = []
        for line in process.stdout:
            chunks.append(line)
            message = json.loads(line)
            if message.get("id") == until_id:
                answer = message
                break
        process.stdin.close()
        rest = process.stdout.read()
        code = process.wait()
        err_file.seek(0)
        return code, b"".join(chunks) + rest, err_file.read(), answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stdin", help="file whose content goes to the command's stdin")
    parser.add_argument("--until-id", type=int, help="keep stdin open until this JSON-RPC id")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    answer: dict[str, Any] | None = None
    if args.until_id is None:
        with open(args.stdin, "rb") if args.stdin else open("/dev/null", "rb") as source:
            done = subprocess.run(command, stdin=source, capture_output=True, check=False)
        code, out, err = done.returncode, done.stdout, done.stderr
    else:
        code, out, err, answer = _until(command, args.stdin, args.until_id)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    report = {
        "returncode": code,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "stdout": out.decode(errors="replace")[-2000:],
        "stderr": err.decode(errors="replace")[-2000:],
        "answer": answer,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
