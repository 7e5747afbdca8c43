"""``python -m bench_lib.advise``: the same command as ``bench-lib advise``."""

if __name__ == "__main__":
    import os
    import sys

    os.environ.setdefault("OUTDATED_IGNORE", "1")
    from bench_lib.advise import main

    sys.exit(main())
