"""tfmm benchmarks: scripts that print figures and record them in BENCHMARKS.md.

    python -m benchmarks.run --quick        # about 3 minutes on 2 CPU cores
    python -m benchmarks.run                # the full run
    python -m benchmarks.run --only input_pipeline

Figures are ratios measured side by side in one run (absolute times drift on shared
machines). Each benchmark's last line is `NAME: ratio=R`.
"""
