"""Make a small web-crawl-like JSONL corpus for the demo, from text that ships with Python.

Each record is the docstring of a Python standard-library module (the Python Software
Foundation's PSF-2.0 text), given a made-up URL on reserved example hosts (RFC 2606:
example.com, example.org, example.net and their subdomains, so registrable domains group
them), an author, a date in 2024, and, for every seventh record, its own licence
CC-BY-NC-4.0 (a label for the demo, to show the record-licence policy).

    python demo/crawl.py OUT.jsonl
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings

MODULES = [
    "abc",
    "argparse",
    "ast",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fractions",
    "functools",
    "getopt",
    "gettext",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "math",
    "mimetypes",
    "operator",
    "os",
    "pathlib",
    "pickle",
    "pprint",
    "queue",
    "random",
    "re",
    "sched",
    "secrets",
    "selectors",
    "shlex",
    "shutil",
    "signal",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "timeit",
    "tokenize",
    "traceback",
    "types",
    "typing",
    "unittest",
    "urllib",
    "uuid",
    "warnings",
    "weakref",
    "zipfile",
    "zlib",
]
HOSTS = (
    "docs.example.com", "api.docs.example.com", "www.example.com",
    "blog.example.org", "forum.example.org",
    "news.example.net",
)  # fmt: skip
AUTHORS = ("ada", "grace", "linus", "guido", "barbara")


def records() -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, name in enumerate(MODULES):
            doc = (importlib.import_module(name).__doc__ or "").strip()
            if not doc:
                continue
            host = HOSTS[(n * n + n // 3) % len(HOSTS)]
            out.append(
                {
                    "text": doc,
                    "url": f"https://{host}/library/{name}.html",
                    "author": AUTHORS[n % len(AUTHORS)],
                    "date": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}",
                    "licence": "CC-BY-NC-4.0" if n % 7 == 3 else None,
                }
            )
    return out


def main() -> None:
    rows = records()
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"{len(rows)} records from {len(HOSTS)} hosts written to {sys.argv[1]}")


if __name__ == "__main__":
    main()
