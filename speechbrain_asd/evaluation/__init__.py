"""Back ends, official DCASE2023 metrics, submission files and reports."""
