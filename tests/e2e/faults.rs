//! Deployment-wide faults, one per permanent error class: the fault is injected, the dataset waits or dead-letters, the fault is fixed, and after `hubtune redrive` exactly one job runs for it.
