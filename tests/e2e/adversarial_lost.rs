//! Inputs real deployments produce that once lost a dataset or left work stuck, each run through the real handlers on the local stack.
