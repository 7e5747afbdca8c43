"""``python -m bench_lib.advise``: the same command as ``bench-lib advise``."""

if __name__ == "__main__":  # bench_lib's import has set OUTDATED_IGNORE (ogb's version check)
    import sys

    from bench_lib.advise import main

    sys.exit(main())
