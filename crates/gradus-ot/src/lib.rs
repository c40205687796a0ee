//! Optimal transport and DRO (papers 03, 08). Work in progress.
