"""``python -m bench_lib.models``: the same command as ``bench-lib models``
(:mod:`bench_lib.cli.models`)."""

if __name__ == "__main__":
    import os
    import sys

    os.environ.setdefault("OUTDATED_IGNORE", "1")
    from bench_lib.cli.models import main

    sys.exit(main())
