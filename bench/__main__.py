"""`python -m bench`: run the claim-speed benchmarks."""

from bench.run import main

if __name__ == "__main__":
    raise SystemExit(main())
