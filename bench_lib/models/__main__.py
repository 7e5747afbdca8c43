"""``python -m bench_lib.models``: the same command as ``bench-lib models``
(:mod:`bench_lib.cli.models`)."""

if __name__ == "__main__":  # bench_lib's import has set OUTDATED_IGNORE (ogb's version check)
    import sys

    from bench_lib.cli.models import main

    sys.exit(main())
