//! Robust aggregation, attacks, LSH screening, federated simulation (papers 05, 09). Work in progress.
