//! Linear algebra (issue 3). Work in progress.
