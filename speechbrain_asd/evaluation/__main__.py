"""Command line: official DCASE2023 Task 2 results from submission CSV files alone.

Usage::

    python -m speechbrain_asd.evaluation SCORE_DIR [--ground-truth DIR] [--out DIR]
        [--overwrite] [--basename results] [--max-fpr 0.1] [--plots]

Label and domain come from development file names, or for anonymised evaluation names
(``section_00_0000.wav``) from the official evaluator's ground-truth folder. The results table
is printed; with ``--out`` the CSV / Markdown / JSON result files are written there (never
replacing earlier ones without ``--overwrite``), and with ``--plots`` also ROC curves and score
histograms (needs matplotlib). Exit status 0 on success, 2 on bad input.

Authors
 * speechbrain-asd contributors
"""

import argparse
import sys

from speechbrain_asd.evaluation.reports import (
    evaluate_records,
    format_results_table,
    load_submission_records,
    write_results,
)


def build_parser():
    """The argument parser of the command line.

    Arguments
    ---------
    None

    Returns
    -------
    argparse.ArgumentParser
        The parser.

    Example
    -------
    >>> build_parser().parse_args(["scores", "--out", "res"]).out
    'res'
    """
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_asd.evaluation",
        description="Official DCASE2023 Task 2 metrics from anomaly_score_*/decision_result_* "
        "submission CSV files.",
    )
    parser.add_argument("score_dir", metavar="SCORE_DIR", help="folder of submission CSV files")
    parser.add_argument(
        "--ground-truth",
        metavar="DIR",
        default=None,
        help="official evaluator ground truth (ground_truth_data/, ground_truth_domain/, "
        "ground_truth_attributes/), needed for anonymised evaluation file names",
    )
    parser.add_argument("--out", metavar="DIR", default=None, help="write result files here")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace result files written earlier"
    )
    parser.add_argument("--basename", default="results", help="result file name stem")
    parser.add_argument("--max-fpr", type=float, default=0.1, help="pAUC bound (default 0.1)")
    parser.add_argument(
        "--plots", action="store_true", help="also write ROC / histogram figures (needs --out)"
    )
    return parser


def main(argv=None):
    """Runs the command line.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 2 bad input (the reason is printed to stderr).

    Example
    -------
    >>> import tempfile
    >>> main([tempfile.mkdtemp()])  # an empty folder is bad input
    2
    """
    args = build_parser().parse_args(argv)
    if args.plots and args.out is None:
        print("error: --plots needs --out DIR", file=sys.stderr)
        return 2
    if args.plots:
        from speechbrain_asd.evaluation.plots import require_matplotlib

        try:
            require_matplotlib()  # before anything is written
        except ImportError as error:
            print(f"error: --plots: {error}", file=sys.stderr)
            return 2
    try:
        records = load_submission_records(args.score_dir, ground_truth=args.ground_truth)
        results = evaluate_records(records, max_fpr=args.max_fpr)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_results_table(results))
    if args.out is not None:
        try:
            paths = write_results(
                args.out, results, overwrite=args.overwrite, basename=args.basename
            )
            if args.plots:
                from speechbrain_asd.evaluation.plots import plot_roc_curves, plot_score_histograms

                paths["roc"] = plot_roc_curves(
                    records, f"{args.out}/{args.basename}_roc.png", overwrite=args.overwrite
                )
                paths["histograms"] = plot_score_histograms(
                    records, f"{args.out}/{args.basename}_histograms.png", overwrite=args.overwrite
                )
        except (FileExistsError, ImportError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for path in paths.values():
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
